using System.Collections.Concurrent;
using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansBroker.Grains;
using OrleansBroker.Subscriptions;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// Lease renewals under a slow silo: a silo call filter holds back the renewals of chosen
/// subscriptions (as a silo that is overloaded or dying would), and the others must not notice.
/// </summary>
public sealed class RenewalTests : OwnClusterTest<RenewalTests.SiloConfigurator>
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);

    protected override void BeforeDispose() => SlowRenewals.Release();

    [Fact]
    public async Task OneSlowRenewal_DoesNotCostTheOtherSubscriptionsTheirLeases()
    {
        await using var broker = new ClusterBroker(Cluster.Client);
        await broker.ConnectAsync();
        var slowTopic = Topics.Unique("slowrenewal");
        var healthyTopic = Topics.Unique("healthy");
        await using var slow = await broker.SubscribeAsync(slowTopic, new Collector().Handler);
        var healthy = new Collector();
        await using var healthySub = await broker.SubscribeAsync(healthyTopic, healthy.Handler);
        var healthyId = ((ClusterSubscription)healthySub).Id;
        SlowRenewals.Hold(((ClusterSubscription)slow).Id);

        // Three leases long: with renewals awaited together, the healthy lease would lapse in the first.
        var until = DateTime.UtcNow + 3 * Lease;
        var published = 0;
        while (DateTime.UtcNow < until)
        {
            await broker.PublishAsync(healthyTopic, Message.FromString((published++).ToString()));
            await Task.Delay(20);
        }

        SlowRenewals.Release();
        await healthy.WaitForCount(published);
        Assert.Equal(Enumerable.Range(0, published).Select(i => i.ToString()), healthy.Bodies);
        Assert.Equal(1, SlowRenewals.Attaches(healthyId));
        Assert.True(SlowRenewals.RenewalsSeen(healthyId) >= 4, $"{SlowRenewals.RenewalsSeen(healthyId)} renewals of the healthy subscription in three leases");
    }

    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder
            .AddBroker(o => o.SubscriptionLease = Lease)
            .AddIncomingGrainCallFilter<SlowRenewals>();
    }

    /// <summary>Holds back Renew on the subscriptions it is told to, and counts Attach and Renew calls per subscription.</summary>
    private sealed class SlowRenewals : IIncomingGrainCallFilter
    {
        private static readonly ConcurrentDictionary<string, byte> Held = new();
        private static readonly ConcurrentDictionary<string, int> AttachCalls = new();
        private static readonly ConcurrentDictionary<string, int> RenewCalls = new();
        private static readonly TaskCompletionSource Released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public static void Hold(string subscriptionId) => Held[subscriptionId] = 0;

        public static void Release() => Released.TrySetResult();

        public static int Attaches(string subscriptionId) => AttachCalls.GetValueOrDefault(subscriptionId);

        public static int RenewalsSeen(string subscriptionId) => RenewCalls.GetValueOrDefault(subscriptionId);

        public async Task Invoke(IIncomingGrainCallContext context)
        {
            if (context.Grain is ISubscriberGrain && context.TargetId.Key.ToString() is { } id)
            {
                switch (context.ImplementationMethod.Name)
                {
                    case nameof(ISubscriberGrain.Attach):
                        AttachCalls.AddOrUpdate(id, 1, (_, n) => n + 1);
                        break;
                    case nameof(ISubscriberGrain.Renew):
                        RenewCalls.AddOrUpdate(id, 1, (_, n) => n + 1);
                        if (Held.ContainsKey(id))
                        {
                            await Released.Task;
                        }

                        break;
                }
            }

            await context.Invoke();
        }
    }
}
