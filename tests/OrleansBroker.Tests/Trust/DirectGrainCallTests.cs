using OrleansBroker.Grains;
using OrleansBroker.Subscriptions;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Trust;

/// <summary>
/// A caller that is not our client library calls the grains directly: the silo refuses what the
/// library would refuse, with the same codes, and nothing changes.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DirectGrainCallTests(ClusterFixture fixture)
{
    private IClusterClient Client => fixture.Cluster.Client;

    [Theory]
    [InlineData("bad topic")]
    [InlineData("$sys.topic")]
    [InlineData("$DLQ.orders.workers")]
    [InlineData("a..b")]
    [InlineData("orders.*")]
    public async Task Publish_ToAnInvalidTopicKey_IsRefusedWithInvalidTopic(string topic)
    {
        var error = await Assert.ThrowsAsync<BrokerException>(() => Client.GetGrain<ITopicGrain>(topic).Publish(Batch(Message.FromString("x"))));
        Assert.Equal(BrokerErrorCode.InvalidTopic, error.Code);
        Assert.Null(await Client.GetGrain<ITopicGrain>(topic).GetInfo());
    }

    [Fact]
    public async Task Publish_WithABadHeaderKey_IsRefusedWhole_AndCountsNothing()
    {
        var topic = Topics.Unique("direct");
        var good = Message.FromString("good");
        var bad = Message.FromString("bad", new Dictionary<string, string> { ["a:b"] = "v" });
        var error = await Assert.ThrowsAsync<BrokerException>(() => Client.GetGrain<ITopicGrain>(topic).Publish(Batch(good, bad)));
        Assert.Equal(BrokerErrorCode.InvalidHeader, error.Code);
        Assert.Null(await Client.GetGrain<ITopicGrain>(topic).GetInfo());
    }

    [Fact]
    public async Task Publish_OverTheSilosMessageLimit_IsRefusedWithMessageTooLarge()
    {
        var topic = Topics.Unique("direct");
        var error = await Assert.ThrowsAsync<BrokerException>(() =>
            Client.GetGrain<ITopicGrain>(topic).Publish(Batch(new Message(new byte[new BrokerSiloOptions().MaxMessageBytes + Diagnostics.TraceContext.MaxAddedBytes + 1]))));
        Assert.Equal(BrokerErrorCode.MessageTooLarge, error.Code);
    }

    [Fact]
    public async Task Publish_OfMoreMessagesThanABatchHolds_IsRefused()
    {
        var topic = Topics.Unique("direct");
        var batch = Enumerable.Range(0, Publishing.TopicBatcher.MaxBatchMessages + 1).Select(_ => Message.FromString("x")).ToArray();
        var error = await Assert.ThrowsAsync<BrokerException>(() => Client.GetGrain<ITopicGrain>(topic).Publish(batch.AsImmutable()));
        Assert.Equal(BrokerErrorCode.MessageTooLarge, error.Code);
        Assert.Null(await Client.GetGrain<ITopicGrain>(topic).GetInfo());
    }

    [Fact]
    public async Task Publish_OfANullMessage_IsRefused()
    {
        var topic = Topics.Unique("direct");
        await Assert.ThrowsAsync<ArgumentNullException>(() => Client.GetGrain<ITopicGrain>(topic).Publish(new Message[] { null! }.AsImmutable()));
    }

    [Fact]
    public async Task Subscribe_WithABadQueueOrId_IsRefused()
    {
        var topic = Client.GetGrain<ITopicGrain>(Topics.Unique("direct"));
        var queue = await Assert.ThrowsAsync<BrokerException>(() => topic.Subscribe(Guid.NewGuid().ToString("N"), "bad queue"));
        Assert.Equal(BrokerErrorCode.InvalidQueue, queue.Code);
        await Assert.ThrowsAsync<ArgumentException>(() => topic.Subscribe("", null));
        await Assert.ThrowsAsync<ArgumentException>(() => topic.Subscribe(new string('a', 256), null));
        Assert.Null(await topic.GetInfo());
    }

    [Fact]
    public async Task Subscribe_WithAStreamNumberNoTopicHandsOut_IsRefused_AndTheTopicKeepsWorking()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("direct");
        var collector = new Collector();
        await using var subscriber = await broker.SubscribeAsync(topic, collector.Handler);
        var id = ((ClusterSubscription)subscriber).Id;

        // long.MaxValue - 1 made the topic's next stream number overflow.
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Client.GetGrain<ITopicGrain>(topic).Subscribe(id, null, long.MaxValue - 1, restartStream: true));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Client.GetGrain<ITopicGrain>(topic).Subscribe(id, null, -1));

        await broker.PublishAsync(topic, Message.FromString("still delivered"));
        await collector.WaitForCount(1);
        Assert.Equal(["still delivered"], collector.Bodies);
    }

    [Fact]
    public async Task Attach_WithMaxPendingOverTheSilosLimit_IsRefused_ThroughTheBrokerToo()
    {
        var limit = new BrokerSiloOptions().MaxPendingLimit;
        var grain = Client.GetGrain<ISubscriberGrain>(Guid.NewGuid().ToString("N"));
        var observer = Client.CreateObjectReference<IMessageObserver>(new SilentObserver());
        try
        {
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.Attach(new SubscriptionSpec(Topics.Unique("direct"), null, int.MaxValue), observer));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.Attach(new SubscriptionSpec(Topics.Unique("direct"), null, 0), observer));
            var topic = await Assert.ThrowsAsync<BrokerException>(() => grain.Attach(new SubscriptionSpec("no spaces allowed", null, 10), observer));
            Assert.Equal(BrokerErrorCode.InvalidTopic, topic.Code);
            var queue = await Assert.ThrowsAsync<BrokerException>(() => grain.Attach(new SubscriptionSpec(Topics.Unique("direct"), "bad queue", 10), observer));
            Assert.Equal(BrokerErrorCode.InvalidQueue, queue.Code);
        }
        finally
        {
            Client.DeleteObjectReference<IMessageObserver>(observer);
        }

        await using var broker = await ConnectedBroker();
        var name = Topics.Unique("direct");
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => broker.SubscribeAsync(name, new Collector().Handler, new SubscribeOptions { MaxPending = limit + 1 }));
        Assert.Equal(0, (await broker.GetTopicAsync(name))?.Subscribers ?? 0);
    }

    [Fact]
    public async Task Attach_ToALiveSubscriptionFromAnotherObserver_IsRefused_AndTheOwnerKeepsReceiving()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("direct");
        var collector = new Collector();
        await using var subscriber = await broker.SubscribeAsync(topic, collector.Handler);
        var id = ((ClusterSubscription)subscriber).Id;

        var thief = new SilentObserver();
        var observer = Client.CreateObjectReference<IMessageObserver>(thief);
        try
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => Client.GetGrain<ISubscriberGrain>(id).Attach(new SubscriptionSpec(topic, null, 10), observer));
        }
        finally
        {
            Client.DeleteObjectReference<IMessageObserver>(observer);
        }

        await broker.PublishAsync(topic, Message.FromString("mine"));
        await collector.WaitForCount(1);
        Assert.Equal(0, thief.Received);
    }

    [Fact]
    public async Task Deliver_OfAForgedStreamNumber_IsIgnored_AndTheSubscriptionKeepsItsStream()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("direct");
        var collector = new Collector();
        await using var subscriber = await broker.SubscribeAsync(topic, collector.Handler);
        var id = ((ClusterSubscription)subscriber).Id;

        await Client.GetGrain<ISubscriberGrain>(id).Deliver(new DeliveryBatch(topic, long.MaxValue, 0, [Message.FromString("forged")]));
        await broker.PublishAsync(topic, Message.FromString("real"));
        await collector.WaitForCount(1);

        // A renewal carries the subscription's stream to the topic: a poisoned stream would be refused there.
        await Client.GetGrain<ISubscriberGrain>(id).Renew();
        await broker.PublishAsync(topic, Message.FromString("after renewal"));
        await collector.WaitForCount(2);
        Assert.Equal(["real", "after renewal"], collector.Bodies);
    }

    [Theory]
    [InlineData("no-slash", BrokerErrorCode.InvalidQueue)]
    [InlineData("bad topic/workers", BrokerErrorCode.InvalidTopic)]
    [InlineData("orders/bad queue", BrokerErrorCode.InvalidQueue)]
    [InlineData("$sys.orders/workers", BrokerErrorCode.InvalidTopic)]
    public async Task DurableGrain_WithABadKey_IsRefused(string key, BrokerErrorCode code)
    {
        var grain = Client.GetGrain<IDurableGrain>(key);
        Assert.Equal(code, (await Assert.ThrowsAsync<BrokerException>(() => grain.GetInfo())).Code);
        Assert.Equal(code, (await Assert.ThrowsAsync<BrokerException>(() => grain.Delete())).Code);
        Assert.Equal(code, (await Assert.ThrowsAsync<BrokerException>(() => grain.Settle(Guid.NewGuid().ToString("N"), [], [], []))).Code);
    }

    [Fact]
    public async Task DurableSettle_WithBadInput_IsRefused_AndAnotherMembersAckChangesNothing()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("direct");
        var held = new Collector();
        await using var member = await broker.SubscribeAsync(topic, held.Handler,
            new SubscribeOptions { Queue = "workers", Durable = true, AutoAck = false, AckWait = TimeSpan.FromMinutes(5) });
        await broker.PublishAsync(topic, Message.FromString("x"));
        await held.WaitForCount(1);

        var grain = Client.GetGrain<IDurableGrain>(DurableKey.Of(topic, "workers"));
        var tag = new DeliveryTag(1, 1);
        await Assert.ThrowsAsync<ArgumentException>(() => grain.Settle("", [], [tag], []));
        await Assert.ThrowsAsync<ArgumentNullException>(() => grain.Settle(Guid.NewGuid().ToString("N"), null!, [tag], []));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            grain.Settle(((ClusterSubscription)member).Id, [], [], [new DurableNak(tag, TimeSpan.FromSeconds(-1))]));

        // Only the member the message is out to can settle it.
        await grain.Settle(Guid.NewGuid().ToString("N"), [], [tag], []);
        Assert.Equal(1, (await grain.GetInfo())!.Backlog);
        await held.Events[0].AckAsync();
        await Eventually.WaitUntil(async () => (await grain.GetInfo())!.Backlog == 0, "the member's own ack");
    }

    [Fact]
    public async Task Attach_AsADurableMember_WithBadSettings_IsRefused_AndCreatesNothing()
    {
        var topic = Topics.Unique("direct");
        var grain = Client.GetGrain<ISubscriberGrain>(Guid.NewGuid().ToString("N"));
        var observer = Client.CreateObjectReference<IMessageObserver>(new SilentObserver());
        var good = DurableSettings.Default;
        try
        {
            var queue = await Assert.ThrowsAsync<BrokerException>(() => grain.Attach(new SubscriptionSpec(topic, null, 10, good), observer));
            Assert.Equal(BrokerErrorCode.InvalidQueue, queue.Code);
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.Attach(new SubscriptionSpec(topic, "workers", 10, good with { AckWait = TimeSpan.Zero }), observer));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.Attach(new SubscriptionSpec(topic, "workers", 10, good with { MaxDeliver = 0 }), observer));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.Attach(new SubscriptionSpec(topic, "workers", 10, good with { MaxAckPending = 0 }), observer));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.Attach(new SubscriptionSpec(topic, "workers", 10, good with { MaxBacklog = 0 }), observer));
        }
        finally
        {
            Client.DeleteObjectReference<IMessageObserver>(observer);
        }

        Assert.Null(await Client.GetGrain<IDurableGrain>(DurableKey.Of(topic, "workers")).GetInfo());
        Assert.Null(await Client.GetGrain<ITopicGrain>(topic).GetInfo());
    }

    private async Task<ClusterBroker> ConnectedBroker()
    {
        var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        return broker;
    }

    private static Immutable<Message[]> Batch(params Message[] messages) => messages.AsImmutable();

    private sealed class SilentObserver : IMessageObserver
    {
        private int _received;

        public int Received => Volatile.Read(ref _received);

        public Task<bool> OnMessages(long sender, long sequence, long sentBefore, Immutable<Message[]> messages)
        {
            Interlocked.Add(ref _received, messages.Value.Length);
            return Task.FromResult(true);
        }

        public Task OnMessagesWithoutAnswer(long sender, long sequence, long sentBefore, Immutable<Message[]> messages) => OnMessages(sender, sequence, sentBefore, messages);

        public Task<bool> OnDurableMessages(long sender, long sequence, Immutable<Message[]> messages, Subscriptions.DeliveryTag[] tags) => OnMessages(sender, sequence, 0, messages);

        public Task OnDurableMessagesWithoutAnswer(long sender, long sequence, Immutable<Message[]> messages, Subscriptions.DeliveryTag[] tags) => OnMessages(sender, sequence, 0, messages);

        public Task OnEnded() => Task.CompletedTask;
    }
}
