using System.Collections.Concurrent;
using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansBroker.Grains;
using OrleansBroker.Subscriptions;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// The lifecycle's interleavings, forced: a silo call filter makes chosen grain calls fail or wait
/// until the test lets them go, so each race happens every time, not once in a thousand runs.
/// </summary>
public sealed class LifecycleRaceTests : OwnClusterTest<LifecycleRaceTests.SiloConfigurator>
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);

    protected override void BeforeDispose() => CallGate.ReleaseAll();

    [Fact]
    public async Task AnEndingWhoseTopicCallFails_StillEnds_AndTheGroupLosesNothing()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("failedending");
        var leaving = new Collector();
        var staying = new Collector();
        var leaver = await broker.SubscribeAsync(topic, leaving.Handler, new SubscribeOptions { Queue = "workers" });
        await using var stayer = await broker.SubscribeAsync(topic, staying.Handler, new SubscribeOptions { Queue = "workers" });

        // The topic's silo fails the ending's call (dying, or its store failing).
        CallGate.Fail(nameof(ITopicGrain.Unsubscribe), topic);
        await leaver.UnsubscribeAsync();
        CallGate.Clear(nameof(ITopicGrain.Unsubscribe), topic);

        // The topic still lists the leaver; what it sends there must reach the member that stayed.
        for (var i = 0; i < 100; i++)
        {
            await broker.PublishAsync(topic, Message.FromString(i.ToString()));
        }

        await staying.WaitForCount(100);
        var info = await broker.GetTopicAsync(topic);
        Assert.Equal(0, info!.Dropped);
        Assert.Equal(0, leaving.Count);
        await Eventually.WaitUntil(async () => (await broker.GetTopicAsync(topic))!.Subscribers == 1, "the leaver to be taken off the topic");
    }

    [Fact]
    public async Task AnAttachDuringASuspendedEnding_IsNotWipedByIt()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("attachduringending");
        var collector = new Collector();
        var subscription = (ClusterSubscription)await broker.SubscribeAsync(topic, collector.Handler);
        var grain = Cluster.Client.GetGrain<ISubscriberGrain>(subscription.Id);
        var observer = Cluster.Client.CreateObjectReference<IMessageObserver>(new NullObserver());
        try
        {
            // The ending waits on the topic; an attach reaches the grain meanwhile (the client re-attaching).
            var entered = CallGate.Hold(nameof(ITopicGrain.Unsubscribe), topic);
            var ending = grain.Detach(Array.Empty<Message>().AsImmutable());
            await entered.WaitAsync(Eventually.DefaultTimeout);
            var attachArrived = CallGate.Observe(nameof(ISubscriberGrain.Attach), subscription.Id);
            var attaching = grain.Attach(new SubscriptionSpec(topic, null, 100), observer);
            await attachArrived.WaitAsync(Eventually.DefaultTimeout);
            CallGate.ReleaseAll();
            await ending;
            await attaching;

            Assert.True(await grain.Renew(), "the attach made after the ending began must hold");
        }
        finally
        {
            Cluster.Client.DeleteObjectReference<IMessageObserver>(observer);
            await grain.Detach(Array.Empty<Message>().AsImmutable());
        }
    }

    [Fact]
    public async Task ARenewalReattachingDuringUnsubscribe_DoesNotReviveIt()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("revive");
        var subscription = (ClusterSubscription)await broker.SubscribeAsync(topic, new Collector().Handler);
        var grain = Cluster.Client.GetGrain<ISubscriberGrain>(subscription.Id);

        // The silo forgets the subscription; the client's next renewal finds out and re-attaches,
        // and that attach is held back while the user unsubscribes.
        var reattach = CallGate.HoldCall(nameof(ISubscriberGrain.Attach), subscription.Id);
        await grain.Detach(Array.Empty<Message>().AsImmutable());
        await reattach.Entered.Task.WaitAsync(Eventually.DefaultTimeout);
        var unsubscribing = subscription.UnsubscribeAsync();
        CallGate.ReleaseAll();
        await unsubscribing;

        // Whichever order they ran in, the re-attach is over now: the subscription must be ended.
        await reattach.Completed.Task.WaitAsync(Eventually.DefaultTimeout);

        Assert.False(await grain.Renew(), "an unsubscribed subscription stays ended");
        Assert.Equal(0, (await broker.GetTopicAsync(topic))!.Subscribers);
    }

    private async Task<ClusterBroker> ConnectedBroker()
    {
        var broker = new ClusterBroker(Cluster.Client);
        await broker.ConnectAsync();
        return broker;
    }

    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder
            .AddBroker(o => o.SubscriptionLease = Lease)
            .AddIncomingGrainCallFilter<CallGate>();
    }

    private sealed class NullObserver : IMessageObserver
    {
        public Task<bool> OnMessages(long sender, long sequence, long sentBefore, Immutable<Message[]> messages) => Task.FromResult(true);

        public Task OnMessagesWithoutAnswer(long sender, long sequence, long sentBefore, Immutable<Message[]> messages) => Task.CompletedTask;

        public Task<bool> OnDurableMessages(long sender, long sequence, Immutable<Message[]> messages, Subscriptions.DeliveryTag[] tags) => OnMessages(sender, sequence, 0, messages);

        public Task OnDurableMessagesWithoutAnswer(long sender, long sequence, Immutable<Message[]> messages, Subscriptions.DeliveryTag[] tags) => OnMessages(sender, sequence, 0, messages);

        public Task OnEnded() => Task.CompletedTask;
    }

    /// <summary>Fails, or holds until released, the calls of one method on one grain key.</summary>
    private sealed class CallGate : IIncomingGrainCallFilter
    {
        private static readonly ConcurrentDictionary<(string Method, string Key), Rule> Rules = new();
        private static readonly TaskCompletionSource Released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Holds the method's calls on that key; the task completes when the first one is held.</summary>
        public static Task Hold(string method, string key) => HoldCall(method, key).Entered.Task;

        /// <summary>Holds the method's calls on that key; the rule says when the first was held and when it finished.</summary>
        public static Rule HoldCall(string method, string key)
        {
            var rule = new Rule(Fail: false);
            Rules[(method, key)] = rule;
            return rule;
        }

        public static void Fail(string method, string key) => Rules[(method, key)] = new Rule(Fail: true);

        /// <summary>Lets the method's calls on that key through; the task completes when the first one arrives.</summary>
        public static Task Observe(string method, string key)
        {
            var rule = new Rule(Fail: false) { PassThrough = true };
            Rules[(method, key)] = rule;
            return rule.Entered.Task;
        }

        public static void Clear(string method, string key) => Rules.TryRemove((method, key), out _);

        public static void ReleaseAll()
        {
            Rules.Clear();
            Released.TrySetResult();
        }

        public async Task Invoke(IIncomingGrainCallContext context)
        {
            if (context.TargetId.Key.ToString() is { } key && Rules.TryGetValue((context.ImplementationMethod.Name, key), out var rule))
            {
                if (rule.Fail)
                {
                    throw new InvalidOperationException("Failed by the test's call gate.");
                }

                rule.Entered.TrySetResult();
                if (!rule.PassThrough)
                {
                    await Released.Task;
                }

                try
                {
                    await context.Invoke();
                }
                finally
                {
                    rule.Completed.TrySetResult();
                }

                return;
            }

            await context.Invoke();
        }

        public sealed record Rule(bool Fail)
        {
            public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public TaskCompletionSource Completed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public bool PassThrough { get; init; }
        }
    }
}
