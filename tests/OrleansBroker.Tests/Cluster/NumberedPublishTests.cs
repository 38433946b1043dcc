using OrleansBroker.Grains;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// A publisher sends a batch again when its call failed or timed out; the topic takes each numbered
/// batch once, and never one older than it took, so a copy is not delivered twice or out of order.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class NumberedPublishTests(ClusterFixture fixture)
{
    private IClusterClient Client => fixture.Cluster.Client;

    [Fact]
    public async Task Topic_TakesANumberedBatchOnce_AndNeverOneOlderThanItTook()
    {
        await using var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("numbered");
        var received = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, received.Handler);
        var grain = Client.GetGrain<ITopicGrain>(topic);

        await grain.Publish("publisher-a", 1, new[] { Message.FromString("1") }.AsImmutable());
        await grain.Publish("publisher-a", 1, new[] { Message.FromString("1 again") }.AsImmutable());
        await grain.Publish("publisher-a", 3, new[] { Message.FromString("3") }.AsImmutable());
        await grain.Publish("publisher-a", 2, new[] { Message.FromString("2, given up on and landing late") }.AsImmutable());
        await grain.Publish("publisher-b", 1, new[] { Message.FromString("b1") }.AsImmutable());

        await received.WaitForCount(3);
        Assert.Equal(["1", "3", "b1"], received.Bodies);
        Assert.Equal(3, (await broker.GetTopicAsync(topic))!.Published);
    }

    [Fact]
    public async Task Topic_RefusesABadPublisherNumber() =>
        await Assert.ThrowsAnyAsync<ArgumentException>(() =>
            Client.GetGrain<ITopicGrain>(Topics.Unique("bad")).Publish("p", 0, new[] { Message.FromString("x") }.AsImmutable()));
}
