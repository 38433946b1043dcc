using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansBroker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// Failures in a three-silo TestCluster with a short lease and fast failure detection: each test
/// gets a cluster of its own, since it kills parts of it.
/// </summary>
public sealed class FailoverTests(ITestOutputHelper output) : OwnClusterTest<FailoverTests.SiloConfigurator>
{
    internal static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);

    protected override short InitialSilos => 3;

    [Fact]
    public async Task KilledClient_WithoutUnsubscribing_IsRemovedWithinTwoLeases()
    {
        var topic = Topics.Unique("crash");
        var doomed = new ClusterBroker(Cluster.Client);
        await doomed.ConnectAsync();
        await doomed.SubscribeAsync(topic, new Collector().Handler);
        await doomed.SubscribeAsync(topic, new Collector().Handler, new SubscribeOptions { Queue = "workers" });

        await Cluster.KillClientAsync();
        var killed = DateTime.UtcNow;
        await Cluster.InitializeClientAsync();
        await using var survivor = new ClusterBroker(Cluster.Client);
        await survivor.ConnectAsync();
        var live = new Collector();
        await using var liveSub = await survivor.SubscribeAsync(topic, live.Handler, new SubscribeOptions { Queue = "workers" });

        await Eventually.WaitUntil(async () => (await survivor.GetTopicAsync(topic))!.Subscribers == 1,
            "the dead client's subscriptions to be removed", 2 * Lease + TimeSpan.FromSeconds(1));
        output.WriteLine($"client killed: its subscriptions removed after {(DateTime.UtcNow - killed).TotalSeconds:0.0} s (lease {Lease.TotalSeconds} s)");
        Assert.True(DateTime.UtcNow - killed < 2 * Lease + TimeSpan.FromSeconds(1));

        // The queue group no longer sends anything to the dead member.
        for (var i = 0; i < 50; i++)
        {
            await survivor.PublishAsync(topic, Message.FromString(i.ToString()));
        }

        await live.WaitForCount(50);
        Assert.Equal(1, (await survivor.GetTopicAsync(topic))!.QueueGroups["workers"]);
    }

    [Fact]
    public async Task KillingEachSecondarySilo_EveryTopicDeliversAgain_WithoutResubscribing()
    {
        await using var broker = new ClusterBroker(Cluster.Client);
        await broker.ConnectAsync();
        var topics = Enumerable.Range(0, 12).Select(i => new TopicUnderTest(Topics.Unique($"failover{i}"))).ToList();
        foreach (var t in topics)
        {
            await broker.SubscribeAsync(t.Name, t.Broadcast.Handler);
            await broker.SubscribeAsync(t.Name, t.MemberA.Handler, new SubscribeOptions { Queue = "workers" });
            await broker.SubscribeAsync(t.Name, t.MemberB.Handler, new SubscribeOptions { Queue = "workers" });
        }

        await ExactlyOnceInOrder(broker, topics, "start");
        foreach (var silo in Cluster.SecondarySilos.ToList())
        {
            await Cluster.KillSiloAsync(silo);
            var killed = DateTime.UtcNow;
            var round = silo.Name;
            await Eventually.WaitUntil(() => ProbeAll(broker, topics, round), $"every topic to deliver again after killing {round}",
                TimeSpan.FromSeconds(60));
            output.WriteLine($"killed {round} (in-memory storage lost with it): every subscription delivering again after {(DateTime.UtcNow - killed).TotalSeconds:0.0} s");
            await ExactlyOnceInOrder(broker, topics, $"after-{round}");
        }
    }

    /// <summary>Publishes a probe to every topic that has not yet delivered one of this round to all its subscribers.</summary>
    private static async Task<bool> ProbeAll(ClusterBroker broker, List<TopicUnderTest> topics, string round)
    {
        var healed = true;
        foreach (var t in topics.Where(t => !t.HasProbe(round)))
        {
            healed = false;
            try
            {
                await broker.PublishAsync(t.Name, Message.FromString($"probe-{round}")).WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex) when (ex is BrokerException or TimeoutException)
            {
                // The cluster is still healing; try again on the next poll.
            }
        }

        if (!healed)
        {
            await Task.Delay(200);
        }

        return healed;
    }

    /// <summary>After healing, nothing is lost or doubled: each subscriber gets the next 50 messages once, in order.</summary>
    private static async Task ExactlyOnceInOrder(ClusterBroker broker, List<TopicUnderTest> topics, string round)
    {
        var expected = Enumerable.Range(0, 50).Select(i => $"{round}-{i}").ToList();
        foreach (var t in topics)
        {
            foreach (var body in expected)
            {
                await broker.PublishAsync(t.Name, Message.FromString(body));
            }
        }

        foreach (var t in topics)
        {
            await Eventually.WaitUntil(() => t.Broadcast.Bodies.Count(b => b.StartsWith(round + "-")) >= 50
                && t.GroupBodies().Count(b => b.StartsWith(round + "-")) >= 50, $"{t.Name} to get round {round}");
        }

        foreach (var t in topics)
        {
            Assert.Equal(expected, t.Broadcast.Bodies.Where(b => b.StartsWith(round + "-")));
            var group = t.GroupBodies().Where(b => b.StartsWith(round + "-")).ToList();
            Assert.Equal(expected.Order(), group.Order());
        }
    }

    private sealed class TopicUnderTest(string name)
    {
        public string Name { get; } = name;
        public Collector Broadcast { get; } = new();
        public Collector MemberA { get; } = new();
        public Collector MemberB { get; } = new();

        public IEnumerable<string> GroupBodies() => MemberA.Bodies.Concat(MemberB.Bodies);

        /// <summary>Every subscription, each queue-group member included, has received a probe of this round.</summary>
        public bool HasProbe(string round) =>
            new[] { Broadcast, MemberA, MemberB }.All(c => c.Bodies.Contains($"probe-{round}"));
    }

    /// <summary>
    /// The broker with a <see cref="Lease"/> lease, and failure detection and call timeouts short enough
    /// for a test to see a silo declared dead and its calls given up on within seconds.
    /// </summary>
    internal static void ConfigureFastFailover(ISiloBuilder siloBuilder)
    {
        siloBuilder.AddBroker(o => o.SubscriptionLease = Lease);
        siloBuilder.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = TimeSpan.FromSeconds(1);
            o.NumMissedProbesLimit = 2;
            o.NumVotesForDeathDeclaration = 1;
        });
        siloBuilder.Services.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));
    }

    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => ConfigureFastFailover(siloBuilder);
    }
}
