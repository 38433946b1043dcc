using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Trust;

/// <summary>
/// A subscriber that never reads holds at most MaxSubscriptionBytes on its silo: the rest is
/// dropped and counted. Alone in its collection, so the heap it measures is its own.
/// </summary>
[Collection(SmallBudgetCollection.Name)]
public sealed class SubscriberMemoryTests(SmallBudgetFixture fixture)
{
    [Fact]
    public async Task ASubscriberThatNeverReads_HoldsAtMostItsByteBudget_AndTheRestIsCountedAsDropped()
    {
        const int bodyBytes = 64 * 1024;
        const int published = 1600; // 100 MiB, 100 times the budget; MaxPending (65,536) never binds
        await using var broker = new ClusterBroker(fixture.Cluster.Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("neverreads");
        var blocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = 0;
        await using var subscriber = await broker.SubscribeAsync(topic, async (_, _) =>
        {
            Interlocked.Increment(ref handled);
            await blocked.Task;
        });

        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        try
        {
            for (var i = 0; i < published; i += 16)
            {
                await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => broker.PublishAsync(topic, new Message(new byte[bodyBytes]))));
            }

            // Everything published is either held (on the silo, or in the client's few batches) or counted.
            await Eventually.WaitUntil(async () => await broker.GetTopicAsync(topic) is { } info && info.Delivered == published,
                "every message to be handed to the subscription");
            TopicInfo? settled = null;
            await Eventually.WaitUntil(async () =>
            {
                var before = settled?.Dropped;
                settled = await broker.GetTopicAsync(topic);
                return settled!.Dropped == before && settled.Dropped > 0;
            }, "the drop count to settle");
            var heapHeld = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;

            // Kept: the silo's budget (1 MiB) plus the client's bounded queue (4 batches of at most
            // the budget each) plus the message in the handler: about 81 messages of 64 KiB.
            var kept = published - settled!.Dropped;
            Assert.True(kept <= 6 * SmallBudgetFixture.Budget / bodyBytes + 1, $"{kept} of {published} messages kept; the budget allows about {SmallBudgetFixture.Budget / bodyBytes} on the silo");
            Assert.True(heapHeld < 24L * 1024 * 1024, $"the heap grew by {heapHeld / 1024 / 1024} MiB while 100 MiB went to a subscriber that never reads");
            Assert.Equal(1, Volatile.Read(ref handled));
        }
        finally
        {
            blocked.TrySetResult();
        }
    }
}

/// <summary>One silo whose subscriptions may hold 1 MiB each.</summary>
public sealed class SmallBudgetFixture() : ClusterFixture<SmallBudgetFixture.SiloConfigurator>(1)
{
    public const long Budget = 1024 * 1024;

    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder.AddBroker(o => o.MaxSubscriptionBytes = Budget);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SmallBudgetCollection : ICollectionFixture<SmallBudgetFixture>
{
    public const string Name = "small budget";
}
