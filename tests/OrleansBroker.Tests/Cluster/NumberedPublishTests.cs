using OrleansBroker.Grains;
using OrleansBroker.Subscriptions;
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

    [Fact]
    public async Task Subscriber_TakesAPublishOnce_EvenWhenTwoActivationsOfItsTopicDeliverIt()
    {
        // A topic that crashed after delivering a publish but before answering forgets it; the publisher
        // sends it again, and the topic's next activation delivers it on a new stream.
        await using var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("twice");
        var received = new Collector();
        var sub = (ClusterSubscription)await broker.SubscribeAsync(topic, received.Handler);
        await using var _ = sub;
        var grain = Client.GetGrain<ISubscriberGrain>(sub.Id);
        var crashed = DateTime.UtcNow.Ticks + TimeSpan.TicksPerDay;
        var next = crashed + 1;

        await grain.Deliver(new DeliveryBatch(topic, crashed, 0, [Message.FromString("1")], "publisher", 1));
        await received.WaitForCount(1); // one-way calls can overtake each other: this one comes first

        await grain.Deliver(new DeliveryBatch(topic, next, 0, [Message.FromString("1 from the next activation")], "publisher", 1));
        await grain.Deliver(new DeliveryBatch(topic, next, 1, [Message.FromString("2")], "publisher", 2));

        await received.WaitForCount(2);
        Assert.Equal(["1", "2"], received.Bodies);
    }
}
