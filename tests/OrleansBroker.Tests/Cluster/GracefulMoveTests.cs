using System.Collections.Concurrent;
using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansBroker.Grains;
using OrleansBroker.Subscriptions;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// A subscriber grain that moves gracefully while its client does not answer: its old activation sends what it
/// has as one-way calls and hands over, and its next activation carries on. A silo call filter holds the old
/// activation's calls back until the next activation's first delivery has been answered by the client, then
/// sends them last first (calls on different routes can arrive so while a silo stops), or holds one until the
/// client has given up on it (as if Orleans had lost it on the way).
/// </summary>
public sealed class GracefulMoveTests : OwnClusterTest<GracefulMoveTests.SiloConfigurator>
{
    protected override void BeforeDispose() => ObserverCalls.ReleaseAll();

    protected override void Configure(TestClusterBuilder builder) => builder.AddClientBuilderConfigurator<ClientConfigurator>();

    [Fact]
    public async Task AMovedSubscriber_DeliversEveryMessageOnceInOrder_WhenTheOldActivationsCallsArriveLastAndReversed()
    {
        await using var moved = await SubscribeAndMoveWithItsLastDeliveriesHeldAsync("move");
        var (broker, topic, id, received) = (moved.Broker, moved.Topic, moved.Id, moved.Received);

        // The next activation's first delivery (m6) reaches the client before anything the old one sent.
        var answered = ObserverCalls.PassFromNowOn(id);
        await broker.PublishAsync(topic, Message.FromString("m6"));
        await answered.WaitAsync(Eventually.DefaultTimeout);
        await ObserverCalls.ReleaseLastFirst(id);
        await broker.PublishAsync(topic, Message.FromString("m7"));

        await Eventually.WaitUntil(() => received.Bodies.Contains("m7"), $"m7 (have {string.Join(", ", received.Bodies)})");
        Assert.Equal(string.Join(", ", Enumerable.Range(0, 8).Select(i => $"m{i}")), string.Join(", ", received.Bodies));
    }

    [Fact]
    public async Task AMovedSubscriber_CarriesOnItsRunningCount_SoTheClientCountsAOneWayDeliveryLostOnTheWayOnce()
    {
        await using var moved = await SubscribeAndMoveWithItsLastDeliveriesHeldAsync("lost");
        var (broker, topic, id, received) = (moved.Broker, moved.Topic, moved.Id, moved.Received);

        // The next activation's first delivery (m6) reaches the client, then the old activation's one-way copy of
        // m1 (its lowest number). The rest of its one-way calls (m2-m5) are lost on the way: the client holds m6
        // for them, gives up, and counts their messages from m6's running count, which the next activation carried on.
        var answered = ObserverCalls.PassFromNowOn(id);
        await broker.PublishAsync(topic, Message.FromString("m6"));
        await answered.WaitAsync(Eventually.DefaultTimeout);
        var oneWay = ObserverCalls.HeldCalls(id).Where(c => c.OneWay).OrderBy(c => c.Sequence).ToArray();
        await ObserverCalls.ReleaseToTheClient(oneWay[0]);
        var lost = oneWay[1..];
        var lostMessages = lost.Sum(c => c.Messages);
        Assert.Equal(4, lostMessages);
        await Eventually.WaitUntil(async () => (await broker.GetTopicAsync(topic))!.Dropped == lostMessages, $"the lost deliveries' {lostMessages} messages counted as dropped");
        await Eventually.WaitUntil(() => received.Bodies.Contains("m6"), "m6 to go on without the lost deliveries");

        // They arrive after all: not delivered, and not counted again.
        foreach (var late in lost)
        {
            await ObserverCalls.ReleaseToTheClient(late);
        }

        ObserverCalls.ReleaseAll();
        await broker.PublishAsync(topic, Message.FromString("m7"));
        await Eventually.WaitUntil(() => received.Bodies.Contains("m7"), $"m7 (have {string.Join(", ", received.Bodies)})");
        Assert.Equal("m0, m1, m6, m7", string.Join(", ", received.Bodies));
        Assert.Equal(lostMessages, (await broker.GetTopicAsync(topic))!.Dropped);
    }

    [Fact]
    public async Task AMovedSubscriber_CountsTheOldActivationsLostOneWayDeliveries_EvenWhenNoMessageFollows()
    {
        await using var moved = await SubscribeAndMoveWithItsLastDeliveriesHeldAsync("tail");
        var (broker, topic, id, received) = (moved.Broker, moved.Topic, moved.Id, moved.Received);

        // Nothing more is published. The next activation starts (here on the client's lease renewal) and sends an
        // empty delivery with the running count at once: the client gives up on m1-m5, never to come, and counts them.
        var answered = ObserverCalls.PassFromNowOn(id);
        Assert.True(await Cluster.Client.GetGrain<ISubscriberGrain>(id).Renew());
        await answered.WaitAsync(Eventually.DefaultTimeout);
        await Eventually.WaitUntil(async () => (await broker.GetTopicAsync(topic))!.Dropped == 5, "m1-m5 counted as dropped");
        Assert.Equal("m0", string.Join(", ", received.Bodies));

        // The empty delivery changed nothing for the handler: the next message is handled.
        await broker.PublishAsync(topic, Message.FromString("m6"));
        await Eventually.WaitUntil(() => received.Bodies.Contains("m6"), $"m6 (have {string.Join(", ", received.Bodies)})");
        Assert.Equal("m0, m6", string.Join(", ", received.Bodies));
    }

    /// <summary>
    /// A subscription on a new topic. m0 is delivered; the delivery of m1 gets no answer (its call is held), so m2-m5
    /// wait in the grain's buffer behind it; then a graceful deactivation, which after ResendAfter without an answer
    /// sends m1 again and m2-m5, both one-way (and held).
    /// </summary>
    private async Task<MovedSubscription> SubscribeAndMoveWithItsLastDeliveriesHeldAsync(string name)
    {
        var broker = new ClusterBroker(Cluster.Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique(name);
        var received = new Collector();
        var sub = await broker.SubscribeAsync(topic, received.Handler);
        var id = ((ClusterSubscription)sub).Id;
        await broker.PublishAsync(topic, Message.FromString("m0"));
        await received.WaitForCount(1);

        ObserverCalls.Hold(id);
        await broker.PublishAsync(topic, Message.FromString("m1"));
        await Eventually.WaitUntil(() => ObserverCalls.Held(id, oneWay: false) > 0, "the delivery of m1 to be held");
        for (var i = 2; i <= 5; i++)
        {
            await broker.PublishAsync(topic, Message.FromString($"m{i}"));
        }

        await Eventually.WaitUntil(() => ObserverCalls.Delivered(id) == 6, "m0-m5 to reach the subscriber grain");
        await Cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        await Eventually.WaitUntil(() => ObserverCalls.Held(id, oneWay: true) >= 2, "the old activation's one-way calls");
        return new MovedSubscription(broker, sub, topic, id, received);
    }

    private sealed record MovedSubscription(ClusterBroker Broker, ISubscriber Subscription, string Topic, string Id, Collector Received) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Subscription.DisposeAsync();
            await Broker.DisposeAsync();
        }
    }

    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder
            .AddBroker()
            .AddOutgoingGrainCallFilter<ObserverCalls>()
            .AddIncomingGrainCallFilter<ObserverCalls>();
    }

    public sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.AddIncomingGrainCallFilter<ObserverCalls>();
    }

    /// <summary>
    /// Counts the messages a subscriber grain takes from its topic, and holds its calls to its client's
    /// observer while told to, sending them when released.
    /// </summary>
    private sealed class ObserverCalls : IOutgoingGrainCallFilter, IIncomingGrainCallFilter
    {
        private static readonly ConcurrentDictionary<string, Subscription> Subscriptions = new();

        // The one-way deliveries the client has taken, by number (one subscription per cluster).
        private static readonly ConcurrentDictionary<long, int> OneWayTaken = new();

        public static void Hold(string id) => Of(id).Holding = true;

        public static int Held(string id, bool oneWay) => Of(id).HeldCalls.Count(c => c.OneWay == oneWay);

        public static HeldCall[] HeldCalls(string id) => Of(id).HeldCalls.ToArray();

        public static int Delivered(string id) => Of(id).Delivered;

        /// <summary>Lets the calls made from now on through; completes when the first of them has been answered.</summary>
        public static Task PassFromNowOn(string id)
        {
            var subscription = Of(id);
            var passing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            subscription.Passing = passing;
            subscription.Holding = false;
            return passing.Task;
        }

        /// <summary>Sends the held one-way calls last first, each once the client has taken the one before, then the others.</summary>
        public static async Task ReleaseLastFirst(string id)
        {
            var held = Of(id).HeldCalls.ToArray();
            foreach (var call in held.Where(c => c.OneWay).Reverse())
            {
                await ReleaseToTheClient(call);
            }

            foreach (var call in held.Where(c => !c.OneWay))
            {
                call.Release.TrySetResult();
            }
        }

        /// <summary>Sends a held one-way call; completes once the client has taken it.</summary>
        public static async Task ReleaseToTheClient(HeldCall call)
        {
            var before = TakenByClient(call.Sequence);
            call.Release.TrySetResult();
            await Eventually.WaitUntil(() => TakenByClient(call.Sequence) > before, $"one-way delivery {call.Sequence} to reach the client");
        }

        public static void ReleaseAll()
        {
            foreach (var subscription in Subscriptions.Values)
            {
                subscription.Holding = false;
                foreach (var call in subscription.HeldCalls)
                {
                    call.Release.TrySetResult();
                }
            }
        }

        public async Task Invoke(IOutgoingGrainCallContext context)
        {
            if (context.InterfaceMethod?.DeclaringType != typeof(IMessageObserver)
                || context.SourceId?.Key.ToString() is not { } id || !Subscriptions.TryGetValue(id, out var subscription))
            {
                await context.Invoke();
                return;
            }

            if (subscription.Holding)
            {
                var call = new HeldCall(IsOneWay(context), (long)context.Request.GetArgument(1)!, MessagesOf(context));
                subscription.HeldCalls.Enqueue(call);

                // Sent from outside the grain: by then its activation is gone, as it would be in a real move.
                await call.Release.Task.ConfigureAwait(false);
                await context.Invoke();
                return;
            }

            await context.Invoke();
            subscription.Passing?.TrySetResult();
        }

        public async Task Invoke(IIncomingGrainCallContext context)
        {
            if (context.InterfaceMethod?.DeclaringType == typeof(IMessageObserver))
            {
                // On the client: Orleans runs its observer calls one at a time, in the order they arrived.
                await context.Invoke();
                if (IsOneWay(context))
                {
                    OneWayTaken.AddOrUpdate((long)context.Request.GetArgument(1)!, 1, (_, n) => n + 1);
                }

                return;
            }

            if (context.Request.GetArgumentCount() == 1 && context.Request.GetArgument(0) is DeliveryBatch batch)
            {
                Interlocked.Add(ref Of(context.TargetId.Key.ToString()!).DeliveredMessages, batch.Messages.Length);
            }

            await context.Invoke();
        }

        private static bool IsOneWay(IGrainCallContext context) => context.MethodName.EndsWith("WithoutAnswer", StringComparison.Ordinal);

        private static int MessagesOf(IGrainCallContext context) =>
            Enumerable.Range(0, context.Request.GetArgumentCount()).Select(context.Request.GetArgument)
                .OfType<Immutable<Message[]>>().Sum(m => m.Value.Length);

        private static int TakenByClient(long sequence) => OneWayTaken.GetValueOrDefault(sequence);

        private static Subscription Of(string id) => Subscriptions.GetOrAdd(id, _ => new Subscription());

        private sealed class Subscription
        {
            public int DeliveredMessages;

            public volatile bool Holding;

            public int Delivered => Volatile.Read(ref DeliveredMessages);

            public ConcurrentQueue<HeldCall> HeldCalls { get; } = new();

            public volatile TaskCompletionSource? Passing;
        }

        public sealed record HeldCall(bool OneWay, long Sequence, int Messages)
        {
            public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }
}
