using OrleansBroker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Processes;

/// <summary>
/// A real cluster (<see cref="ProcessCluster"/>): an embedded Garnet, three silo processes with Redis membership and
/// storage, and client processes, all on loopback. Each test builds its own and kills every process at the end.
/// Failure detection is shortened (1 s probes, 2 missed) and the lease is 3 s, so each heals in seconds.
/// </summary>
public sealed class RedisClusterTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Rate = 100;
    private const int Seconds = 15;
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan FailureDetection = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    // Longer than a subscriber grain waits before it sends an unanswered delivery again, twice over (2 s, then 4 s).
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(15);

    private ProcessCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await ProcessCluster.StartAsync(3, ["--lease", Lease.ToString(), "--probe-timeout", "00:00:01", "--Broker:MissedProbes=2"], output);
    }

    public Task DisposeAsync()
    {
        _cluster?.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task KillingTheTopicsSilo_DeliveryResumes_AndLossStaysWithinTheFailureWindow()
    {
        var run = await PublishThroughFailure("crash", silo => silo.Kill());
        AssertAtMostOnceWithinTheFailureWindow(run);
    }

    [Fact]
    public async Task GracefulShutdownOfTheTopicsSilo_LosesNoAcceptedMessage()
    {
        var run = await PublishThroughFailure("shutdown", silo => silo.Terminate());
        Assert.Equal(0, run.Failed);
        Assert.Equal(0, run.Duplicates);
        Assert.Equal(0, run.OutOfOrder);
        Assert.Equal(0, run.Lost);
        Assert.True(run.ReceivedAfterHeal > 0, "delivery resumed");
    }

    [Fact]
    public async Task KillingAGatewaySilo_ClientsMoveToAnotherGateway_AndKeepDelivering()
    {
        // Clients hold connections to every gateway: kill a silo that is a gateway but not the topic's host.
        var run = await PublishThroughFailure("gateway", silo => silo.Kill(), killTopicHost: false);
        AssertAtMostOnceWithinTheFailureWindow(run);
    }

    /// <summary>
    /// At most once: no publish is refused (each is sent again until the cluster takes it, well within
    /// the publish timeout); what is lost is what was accepted during the failure window, never more;
    /// nothing arrives twice or out of order, and delivery resumes.
    /// </summary>
    private static void AssertAtMostOnceWithinTheFailureWindow(FailureRun run)
    {
        var windowBound = (FailureDetection + Lease + TimeSpan.FromSeconds(5)).TotalSeconds * Rate;
        Assert.Equal(0, run.Failed);
        Assert.Equal(0, run.Duplicates);
        Assert.Equal(0, run.OutOfOrder);
        Assert.True(run.Lost <= windowBound, $"{run.Lost} lost, more than {windowBound} ({Rate}/s over the failure window)");
        Assert.True(run.ReceivedAfterHeal > 0, "delivery resumed");
    }

    [Fact]
    public async Task KilledSubscriberProcess_IsRemovedWithinTwoLeases()
    {
        var topic = "clientcrash";
        using var sub = _cluster.Client("sub", topic, "--queue", "workers");
        using var survivor = _cluster.Client("sub", topic, "--queue", "workers");
        await sub.WaitForLine(l => l.StartsWith("subscribed"), "the subscription", StartTimeout);
        await survivor.WaitForLine(l => l.StartsWith("subscribed"), "the subscription", StartTimeout);
        Assert.Equal(2, (await _cluster.Topic(topic)).Subscribers);

        var killed = DateTime.UtcNow;
        sub.Kill();

        // Timed by the line the subscriber grain logs as it removes itself, read as the silo writes it:
        // asking the cluster takes a client process, whose start alone can take seconds on a busy machine.
        await Eventually.WaitUntil(() => RemovalLine(topic) is not null, "the dead member to be removed", 2 * Lease + TimeSpan.FromSeconds(10));
        var removedAfter = RemovalLine(topic)!.Value.At - killed;
        output.WriteLine($"client crash: removed after {removedAfter.TotalSeconds:0.0} s (lease {Lease.TotalSeconds} s)");
        Assert.True(removedAfter <= 2 * Lease + TimeSpan.FromSeconds(2), $"removed after {removedAfter}, over two leases");
        Assert.Equal(1, (await _cluster.Topic(topic)).Subscribers);

        // The group sends nothing more to the dead member: the survivor gets every message.
        var pub = await _cluster.RunClientAsync(TimeSpan.FromSeconds(60), "pub", topic, "m-{n}", "--count", "20");
        Assert.Equal(0, pub.ExitCode);
        await Eventually.WaitUntil(() => survivor.Stdout.Count >= 20, "the survivor to get all 20");
    }

    private Task<FailureRun> PublishThroughFailure(string topic, Action<ProgramProcess> fail, bool killTopicHost = true) =>
        Processes.PublishThroughFailure.RunAsync(_cluster, topic, fail, killTopicHost, Rate, Seconds, Settle, output);

    /// <summary>The first line in which a silo says it removed a subscription of <paramref name="topic"/>, with the time it was read.</summary>
    private (DateTime At, string Line)? RemovalLine(string topic) =>
        _cluster.FirstSiloLine(l => l.Contains($"of topic '{topic}'") && l.Contains("; removed"));
}
