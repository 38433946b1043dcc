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
    public async Task Topic_TakesPipelinedBatchesOnlyAfterTheOneEachNames_AndChangesNothingForOneOutOfOrder()
    {
        await using var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("inorder");
        var received = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, received.Handler);
        var grain = Client.GetGrain<ITopicGrain>(topic);
        static Immutable<Message[]> Batch(string body) => new[] { Message.FromString(body) }.AsImmutable();

        // Unknown publisher naming a previous batch: it may have come back after a crash. None named: taken.
        Assert.Equal(PublishOutcome.UnknownPublisher, await grain.Publish("p", 5, 4, Batch("5 (after 4, unknown here)")));
        Assert.Equal(PublishOutcome.Taken, await grain.Publish("p", 5, 0, Batch("5")));

        // 7 names 6, which has not come: refused, not taken. Then 6 and 7 again, in order.
        Assert.Equal(PublishOutcome.OutOfOrder, await grain.Publish("p", 7, 6, Batch("7 (overtook 6)")));
        Assert.Equal(PublishOutcome.Taken, await grain.Publish("p", 6, 5, Batch("6")));
        Assert.Equal(PublishOutcome.Taken, await grain.Publish("p", 7, 6, Batch("7")));

        // A copy is answered Taken and not delivered again; one naming an older batch (one between failed for good) is next.
        Assert.Equal(PublishOutcome.Taken, await grain.Publish("p", 6, 5, Batch("6 again")));
        Assert.Equal(PublishOutcome.Taken, await grain.Publish("p", 9, 5, Batch("9 (8 failed for good)")));

        await received.WaitForCount(4);
        Assert.Equal(["5", "6", "7", "9 (8 failed for good)"], received.Bodies);
        await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.Publish("p", 10, 10, Batch("names itself")));
    }

    [Fact]
    public async Task Topic_HoldsABatchThatOvertookTheOneBeforeIt_UntilThatOneComes()
    {
        await using var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("overtaken");
        var received = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, received.Handler);
        var grain = Client.GetGrain<ITopicGrain>(topic);
        static Immutable<Message[]> Batch(string body) => new[] { Message.FromString(body) }.AsImmutable();
        Assert.Equal(PublishOutcome.Taken, await grain.Publish("p", 1, 0, Batch("1")));

        // 3 comes before 2, as Orleans may hand a publisher's pipelined calls to the topic: it waits for 2.
        var third = grain.Publish("p", 3, 2, Batch("3"));
        var copyOfThird = grain.Publish("p", 3, 2, Batch("3"));
        Assert.Equal(PublishOutcome.Taken, await grain.Publish("p", 2, 1, Batch("2")));
        Assert.Equal(PublishOutcome.Taken, await third);
        Assert.Equal(PublishOutcome.Taken, await copyOfThird);

        await received.WaitForCount(3);
        Assert.Equal(["1", "2", "3"], received.Bodies);
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
