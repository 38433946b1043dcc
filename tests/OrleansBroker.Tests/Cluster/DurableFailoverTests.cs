using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansBroker.Grains;
using OrleansBroker.Subscriptions;
using OrleansBroker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// Durable subscriptions through failures, in a three-silo TestCluster with a short lease and fast failure
/// detection, whose silos share one durable log (the process's in-memory one) and one grain storage, as a
/// real cluster's silos share their store: a killed silo takes neither with it.
/// </summary>
public sealed class DurableFailoverTests(ITestOutputHelper output) : OwnClusterTest<DurableFailoverTests.SiloConfigurator>
{
    private static readonly TimeSpan Lease = FailoverTests.Lease;

    protected override short InitialSilos => 3;

    [Fact]
    public async Task MemberWhoseClientDies_HandsItsUnackedMessagesToAnotherMember_WithinItsLease()
    {
        var topic = Topics.Unique("durable.clientdies");
        var options = new SubscribeOptions { Queue = "workers", Durable = true, AutoAck = false, AckWait = TimeSpan.FromMinutes(5) };
        var doomed = new ClusterBroker(Cluster.Client);
        await doomed.ConnectAsync();
        var held = new Collector();
        await doomed.SubscribeAsync(topic, held.Handler, options);
        var bodies = Enumerable.Range(0, 20).Select(i => i.ToString()).ToList();
        foreach (var body in bodies)
        {
            await doomed.PublishAsync(topic, Message.FromString(body));
        }

        // The only member holds every message unacked; then its client dies without unsubscribing.
        await held.WaitForCount(bodies.Count);
        await Cluster.KillClientAsync();
        var killed = DateTime.UtcNow;
        await Cluster.InitializeClientAsync();
        await using var survivor = new ClusterBroker(Cluster.Client);
        await survivor.ConnectAsync();
        var taker = new Collector();
        await using var takerSub = await survivor.SubscribeAsync(topic, taker.Handler, options with { AutoAck = true });

        await taker.WaitForCount(bodies.Count, 3 * Lease + TimeSpan.FromSeconds(5));
        var took = DateTime.UtcNow - killed;
        output.WriteLine($"client killed: its {bodies.Count} unacked messages reached the other member after {took.TotalSeconds:0.0} s (lease {Lease.TotalSeconds} s, AckWait 5 min)");
        Assert.Equal(bodies, taker.Bodies);
        Assert.All(taker.Events, e => Assert.Equal(2, e.DeliveryCount));
        await Eventually.WaitUntil(async () => (await survivor.GetTopicAsync(topic))!.Durables.Single() is { Members: 1, Backlog: 0 },
            "the dead member gone and every message acked");
    }

    /// <summary>
    /// A member's SubscriberGrain comes back on another silo after its own silo is killed, and what it then gets
    /// reaches the client. Its next activation reads the observer reference from storage; one still bound to the
    /// killed silo's runtime (a store that hands out the writer's objects instead of a round trip) took every
    /// delivery without it ever reaching the client, and the member's messages stayed out for good.
    /// </summary>
    [Fact]
    public async Task KillingTheSiloOfAMember_ItsNextActivationDeliversToTheClient()
    {
        var topic = Topics.Unique("durable.memberdies");
        var options = new SubscribeOptions { Queue = "workers", Durable = true, AckWait = TimeSpan.FromSeconds(2) };
        await using var broker = new ClusterBroker(Cluster.Client);
        await broker.ConnectAsync();
        var received = new ConcurrentDictionary<string, int>();
        MessageHandler handler = (evt, _) =>
        {
            received.AddOrUpdate(evt.Message.BodyAsString(), 1, (_, n) => n + 1);
            return Task.CompletedTask;
        };

        // One member whose SubscriberGrain is on a secondary silo that does not also host the durable grain.
        var management = Cluster.Client.GetGrain<IManagementGrain>(0);
        var durableGrain = Cluster.Client.GetGrain<IDurableGrain>(DurableKey.Of(topic, options.Queue));
        ISubscriber? member = null;
        SiloHandle? victim = null;
        for (var attempt = 0; attempt < 30 && victim is null; attempt++)
        {
            var candidate = await broker.SubscribeAsync(topic, handler, options);
            var memberHost = await management.GetActivationAddress(Cluster.Client.GetGrain<ISubscriberGrain>(((ClusterSubscription)candidate).Id));
            var durableHost = await management.GetActivationAddress(durableGrain);
            if (!Equals(memberHost, durableHost) && Cluster.SecondarySilos.FirstOrDefault(s => s.SiloAddress.Equals(memberHost)) is { } secondary)
            {
                (member, victim) = (candidate, secondary);
            }
            else
            {
                await candidate.UnsubscribeAsync();
            }
        }

        Assert.NotNull(victim);
        await using var _ = member!;
        await broker.PublishAsync(topic, Message.FromString("before"));
        await Eventually.WaitUntil(() => received.ContainsKey("before"), "the member delivering before the kill");

        await Cluster.KillSiloAsync(victim);
        var bodies = Enumerable.Range(0, 20).Select(i => $"after-{i}").ToList();
        foreach (var body in bodies)
        {
            await Eventually.WaitUntil(async () =>
            {
                try
                {
                    await broker.PublishAsync(topic, Message.FromString(body));
                    return true;
                }
                catch (BrokerException)
                {
                    return false; // the topic's silo may be the one that died: publish again once it is back
                }
            }, $"publishing {body}");
        }

        // The member's next activation is there within a renewal; what it gets must reach the client long before
        // a message out to it would come back (UnbegunWait, 20 s), let alone stay out for good.
        await Eventually.WaitUntil(() => bodies.All(received.ContainsKey), "every message published after the kill delivered", TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task KillingTheSiloOfTheDurableGrain_UnderLoad_DeliversEveryAcceptedMessage()
    {
        var queue = "workers";
        var (topic, victim) = await TopicWhoseDurableIsOnASecondary(queue);
        await using var broker = new ClusterBroker(Cluster.Client);
        await broker.ConnectAsync();
        var received = new ConcurrentDictionary<string, int>();
        MessageHandler handler = (evt, _) =>
        {
            received.AddOrUpdate(evt.Message.BodyAsString(), 1, (_, n) => n + 1);
            return Task.CompletedTask;
        };
        var options = new SubscribeOptions { Queue = queue, Durable = true, AckWait = TimeSpan.FromSeconds(2) };
        await using var a = await broker.SubscribeAsync(topic, handler, options);
        await using var b = await broker.SubscribeAsync(topic, handler, options);

        // Four publishers; a publish that fails while the silo dies was not accepted and need not arrive.
        const int perPublisher = 600;
        var accepted = new ConcurrentBag<string>();
        var failed = 0;
        var killAt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var publishers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < perPublisher; i++)
            {
                var body = $"{p}-{i}";
                try
                {
                    await broker.PublishAsync(topic, Message.FromString(body));
                    accepted.Add(body);
                }
                catch (BrokerException)
                {
                    Interlocked.Increment(ref failed);
                }

                if (accepted.Count >= perPublisher)
                {
                    killAt.TrySetResult();
                }
            }
        })).ToList();

        await killAt.Task.WaitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"killing {victim.SiloAddress} (hosts the durable grain) after {accepted.Count} accepted, {received.Count} received");
        await Cluster.KillSiloAsync(victim);
        await Task.WhenAll(publishers);

        var expected = accepted.ToHashSet();
        try
        {
            await Eventually.WaitUntil(() => expected.All(received.ContainsKey), "every accepted message delivered", TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException)
        {
            var info = (await broker.GetTopicAsync(topic))!.Durables.Single();
            foreach (var line in MemoryLog.Lines.Where(l => !l.Contains("joined") && !l.Contains("Resending")).TakeLast(150))
            {
                output.WriteLine(line);
            }

            throw new TimeoutException($"missing {expected.Count(m => !received.ContainsKey(m))} of {expected.Count} accepted; durable: {info}");
        }
        var duplicates = received.Values.Sum(n => n - 1);
        output.WriteLine($"accepted {expected.Count}, refused {failed}; delivered {received.Count} distinct, {duplicates} duplicate deliveries");
        await Eventually.WaitUntil(async () => (await broker.GetTopicAsync(topic))!.Durables.Single().Backlog == 0,
            "every message acked", TimeSpan.FromSeconds(60));
    }

    /// <summary>
    /// A new topic whose durable grain (topic, <paramref name="queue"/>) is placed on a secondary silo (the primary
    /// holds the test cluster's membership and must live), with that silo. Asking a durable grain that does not
    /// exist for its figures activates it where placement puts it, and creates nothing.
    /// </summary>
    private async Task<(string Topic, SiloHandle Silo)> TopicWhoseDurableIsOnASecondary(string queue)
    {
        var management = Cluster.Client.GetGrain<IManagementGrain>(0);
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var topic = Topics.Unique("durable.silodies");
            var grain = Cluster.Client.GetGrain<IDurableGrain>(DurableKey.Of(topic, queue));
            await grain.GetInfo();
            var host = await management.GetActivationAddress(grain);
            if (Cluster.SecondarySilos.FirstOrDefault(s => s.SiloAddress.Equals(host)) is { } secondary)
            {
                return (topic, secondary);
            }
        }

        throw new InvalidOperationException("No durable grain landed on a secondary silo.");
    }

    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            SharedGrainStorage.AddTo(siloBuilder);
            siloBuilder.Services.AddLogging(b => b.AddProvider(new MemoryLog()).AddFilter("OrleansBroker", LogLevel.Debug));
            FailoverTests.ConfigureFastFailover(siloBuilder);
        }
    }
}
