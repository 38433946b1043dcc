using System.Collections.Concurrent;
using System.Reflection;
using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansBroker.Grains;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// A stopping silo rejects the calls that reach it for the grains it had (and drops one-way calls silently) until
/// the directory names their next activations. A silo call filter rejects chosen topic-to-subscriber batches the
/// same way: the topic sends a rejected batch again, and the subscriber puts it back in order; a batch that never
/// gets through is counted as dropped.
/// </summary>
public sealed class TopicRedeliveryTests : OwnClusterTest<TopicRedeliveryTests.SiloConfigurator>
{
    [Fact]
    public async Task ABatchRejectedOnTheWay_IsSentAgain_AndDeliveredInOrder_EvenWhenNothingFollowsIt()
    {
        await using var broker = new ClusterBroker(Cluster.Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("rejected");
        var received = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, received.Handler);

        await broker.PublishAsync(topic, Message.FromString("m0"));
        await received.WaitForCount(1);
        RejectingDeliveries.Reject("m1", times: 3);
        await broker.PublishAsync(topic, Message.FromString("m1"));
        await Eventually.WaitUntil(() => received.Bodies.Contains("m1"), $"m1, the last message, to get through (have {string.Join(", ", received.Bodies)})");
        Assert.Equal(3, RejectingDeliveries.Rejected("m1"));

        await broker.PublishAsync(topic, Message.FromString("m2"));
        await received.WaitForCount(3);
        Assert.Equal("m0, m1, m2", string.Join(", ", received.Bodies));
        Assert.Equal(0, (await broker.GetTopicAsync(topic))!.Dropped);
    }

    [Fact]
    public async Task ABatchRejectedWhileTheNextGetsThrough_ComesBeforeIt()
    {
        await using var broker = new ClusterBroker(Cluster.Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("overtaken");
        var received = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, received.Handler);

        RejectingDeliveries.Reject("m0", times: 1);
        await broker.PublishAsync(topic, Message.FromString("m0"));
        await Eventually.WaitUntil(() => RejectingDeliveries.Rejected("m0") == 1, "m0 to be rejected once");
        await broker.PublishAsync(topic, Message.FromString("m1"));
        await received.WaitForCount(2);
        Assert.Equal("m0, m1", string.Join(", ", received.Bodies));
    }

    [Fact]
    public async Task ABatchThatNeverGetsThrough_IsCountedAsDroppedOnce()
    {
        await using var broker = new ClusterBroker(Cluster.Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("never");
        var received = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, received.Handler);

        RejectingDeliveries.Reject("lost", times: int.MaxValue);
        await broker.PublishAsync(topic, Message.FromString("m0"));
        await received.WaitForCount(1);
        await broker.PublishAsync(topic, Message.FromString("lost"));
        await Eventually.WaitUntil(() => RejectingDeliveries.Rejected("lost") > 0, "the batch to be rejected");
        await broker.PublishAsync(topic, Message.FromString("m1"));

        // The subscriber holds m1 for the gap, gives up on it and counts its message from m1's running count.
        await Eventually.WaitUntil(async () => (await broker.GetTopicAsync(topic))!.Dropped == 1, "the lost batch's message counted as dropped");
        await received.WaitForCount(2);
        Assert.Equal("m0, m1", string.Join(", ", received.Bodies));

        // The topic stops sending it again once the subscriber has gone on without it: nothing more is counted.
        RejectingDeliveries.Reject("lost", times: 0);
        await broker.PublishAsync(topic, Message.FromString("m2"));
        await received.WaitForCount(3);
        Assert.Equal("m0, m1, m2", string.Join(", ", received.Bodies));
        Assert.Equal(1, (await broker.GetTopicAsync(topic))!.Dropped);
    }

    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder
            .AddBroker()
            .AddIncomingGrainCallFilter<RejectingDeliveries>();
    }

    /// <summary>Rejects the topic's batches whose first message has a chosen body, a chosen number of times.</summary>
    private sealed class RejectingDeliveries : IIncomingGrainCallFilter
    {
        private static readonly ConcurrentDictionary<string, int> ToReject = new();
        private static readonly ConcurrentDictionary<string, int> RejectedCount = new();
        private static readonly ConcurrentDictionary<string, int> PassedCount = new();

        public static void Reject(string body, int times) => ToReject[body] = times;

        public static int Rejected(string body) => RejectedCount.GetValueOrDefault(body);

        public static int Passed(string body) => PassedCount.GetValueOrDefault(body);

        public Task Invoke(IIncomingGrainCallContext context)
        {
            if (context.Request.GetArgumentCount() == 1 && context.Request.GetArgument(0) is DeliveryBatch { Messages: [var first, ..] }
                && first.BodyAsString() is var body && ToReject.TryGetValue(body, out var left))
            {
                if (left > 0)
                {
                    ToReject[body] = left - 1;
                    RejectedCount.AddOrUpdate(body, 1, (_, n) => n + 1);
                    throw StoppingSiloRejection(body);
                }

                PassedCount.AddOrUpdate(body, 1, (_, n) => n + 1);
            }

            return context.Invoke();
        }

        // What the caller gets from a stopping silo's "Silo stopping" rejection; Orleans makes its constructor internal.
        private static OrleansMessageRejectionException StoppingSiloRejection(string body) =>
            (OrleansMessageRejectionException)Activator.CreateInstance(
                typeof(OrleansMessageRejectionException), BindingFlags.NonPublic | BindingFlags.Instance, null, [$"Silo stopping (rejected by the test: {body})"], null)!;
    }
}
