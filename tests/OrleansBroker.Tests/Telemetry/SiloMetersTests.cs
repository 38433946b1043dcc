using System.Diagnostics.Metrics;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Tests.Trust;

namespace OrleansBroker.Tests.Telemetry;

/// <summary>
/// The silos' counters agree with TopicInfo. Alone in a non-parallel collection: the counters carry
/// no topic tag, so other tests' traffic would be counted too.
/// </summary>
[Collection(SmallBudgetCollection.Name)]
public sealed class SiloMetersTests(SmallBudgetFixture fixture)
{
    [Fact]
    public async Task PublishedDeliveredAndDropped_MatchTheTopicsFigures()
    {
        long published = 0, delivered = 0, dropped = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "OrleansBroker" && instrument.Name.StartsWith("orleansbroker.silo.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            switch (instrument.Name)
            {
                case "orleansbroker.silo.published.messages": Interlocked.Add(ref published, value); break;
                case "orleansbroker.silo.delivered.messages": Interlocked.Add(ref delivered, value); break;
                case "orleansbroker.silo.dropped.messages": Interlocked.Add(ref dropped, value); break;
            }
        });
        listener.Start();

        await using var broker = new ClusterBroker(fixture.Cluster.Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("meters");
        var release = new TaskCompletionSource();
        var fast = new Collector();
        await using var blocked = await broker.SubscribeAsync(topic, async (_, _) => await release.Task, new SubscribeOptions { MaxPending = 5 });
        await using var free = await broker.SubscribeAsync(topic, fast.Handler);
        for (var i = 0; i < 500; i += 50)
        {
            await Task.WhenAll(Enumerable.Range(i, 50).Select(n => broker.PublishAsync(topic, Message.FromString(n.ToString()))));
        }

        await fast.WaitForCount(500);
        TopicInfo? info = null;
        await Eventually.WaitUntil(async () => (info = await broker.GetTopicAsync(topic))!.Dropped > 0 && Interlocked.Read(ref dropped) == info.Dropped,
            "the dropped counter to match the topic's");
        release.SetResult();
        Assert.Equal(500, Interlocked.Read(ref published));
        Assert.Equal(info!.Published, Interlocked.Read(ref published));
        Assert.Equal(info.Delivered, Interlocked.Read(ref delivered));
        Assert.Equal(1000, info.Delivered);
    }
}
