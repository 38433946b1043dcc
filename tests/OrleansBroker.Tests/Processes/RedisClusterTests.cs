using System.Text.RegularExpressions;
using OrleansBroker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Processes;

/// <summary>
/// A real cluster: an embedded Garnet (the Redis protocol), three silo processes with Redis membership and storage, and
/// client processes, all on loopback. Each test builds its own and kills every process at the end.
/// Failure detection is shortened (1 s probes, 2 missed) and the lease is 3 s, so each heals in seconds.
/// </summary>
public sealed partial class RedisClusterTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Rate = 100;
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan FailureDetection = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    // The subscriber is taken to have everything it will get once it has been silent this long after the
    // publisher finished: longer than a subscriber grain waits before it sends an unanswered delivery
    // again, twice over (2 s, then 4 s), so a delivery that is late but coming is not counted as lost.
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(15);

    // ORLEANSBROKER_TEST_LOGS=<directory>: the silos log Orleans at Information and the broker at Debug, and
    // each process's whole output, every line with the time it was read, is written there when the test ends.
    private static readonly string? LogDirectory = Environment.GetEnvironmentVariable("ORLEANSBROKER_TEST_LOGS");
    private static readonly string[] VerboseLogging = ["--Logging:LogLevel:Orleans=Information", "--Logging:LogLevel:OrleansBroker=Debug"];

    private readonly List<ProgramProcess> _processes = [];
    private readonly List<(ProgramProcess Process, int SiloPort)> _silos = [];
    private readonly string _clusterId = "test-" + Guid.NewGuid().ToString("N")[..8];
    private RedisServer _redis = null!;

    public async Task InitializeAsync()
    {
        _redis = RedisServer.Start();
        for (var i = 0; i < 3; i++)
        {
            var siloPort = ProgramProcess.FreePort();
            var silo = Track(ProgramProcess.Start("silo", ["--clustering", "Redis", "--redis", _redis.ConnectionString,
                "--cluster-id", _clusterId, "--silo-port", siloPort.ToString(), "--gateway-port", ProgramProcess.FreePort().ToString(),
                "--dashboard-port", "0", "--lease", Lease.ToString(), "--probe-timeout", "00:00:01", "--Broker:MissedProbes=2",
                .. (LogDirectory is null ? [] : VerboseLogging)]));
            _silos.Add((silo, siloPort));
        }

        foreach (var (silo, _) in _silos)
        {
            await silo.WaitForLine(l => l.Contains("OrleansBroker silo ready"), "a silo to be ready", StartTimeout);
        }
    }

    public Task DisposeAsync()
    {
        // The silos' warnings and errors explain a failed run; they are shown with the test's output.
        foreach (var (silo, port) in _silos)
        {
            foreach (var line in silo.Stdout.Concat(silo.Stderr).Where(l => l.Contains(" warn: ") || l.Contains(" fail: ") || l.Contains(" crit: ")).Take(40))
            {
                output.WriteLine($"silo {port}: {line}");
            }
        }

        foreach (var process in _processes)
        {
            process.Dispose();
        }

        if (LogDirectory is not null)
        {
            WriteLogs(LogDirectory);
        }

        _redis?.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>One file per process: its standard output with the time each line was read, then its standard error.</summary>
    private void WriteLogs(string directory)
    {
        Directory.CreateDirectory(directory);
        for (var i = 0; i < _processes.Count; i++)
        {
            var process = _processes[i];
            var silo = _silos.FirstOrDefault(s => s.Process == process);
            var name = silo.Process is not null
                ? $"silo-{silo.SiloPort}"
                : "client-" + string.Join("-", process.Arguments.Skip(1 + ClusterArgs().Length).TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).Take(2));
            File.WriteAllLines(Path.Combine(directory, $"{_clusterId}-{i}-{name}.log"),
                [.. process.TimedStdout.Select(l => $"{l.At:HH:mm:ss.fff} {l.Line}"), "---- standard error", .. process.Stderr]);
        }
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
        using var sub = Track(Client("sub", topic, "--queue", "workers"));
        using var survivor = Track(Client("sub", topic, "--queue", "workers"));
        await sub.WaitForLine(l => l.StartsWith("subscribed"), "the subscription", StartTimeout);
        await survivor.WaitForLine(l => l.StartsWith("subscribed"), "the subscription", StartTimeout);
        Assert.Equal(2, (await Topic(topic)).Subscribers);

        var killed = DateTime.UtcNow;
        sub.Kill();

        // Timed by the line the subscriber grain logs as it removes itself, read as the silo writes it:
        // asking the cluster takes a client process, whose start alone can take seconds on a busy machine.
        await Eventually.WaitUntil(() => RemovalLine(topic) is not null, "the dead member to be removed", 2 * Lease + TimeSpan.FromSeconds(10));
        var removedAfter = RemovalLine(topic)!.Value.At - killed;
        output.WriteLine($"client crash: removed after {removedAfter.TotalSeconds:0.0} s (lease {Lease.TotalSeconds} s)");
        Assert.True(removedAfter <= 2 * Lease + TimeSpan.FromSeconds(2), $"removed after {removedAfter}, over two leases");
        Assert.Equal(1, (await Topic(topic)).Subscribers);

        // The group sends nothing more to the dead member: the survivor gets every message.
        var pub = await ProgramProcess.RunAsync("client", TimeSpan.FromSeconds(60), [.. ClusterArgs(), "pub", topic, "m-{n}", "--count", "20"]);
        Assert.Equal(0, pub.ExitCode);
        await Eventually.WaitUntil(() => survivor.Stdout.Count >= 20, "the survivor to get all 20");
    }

    /// <summary>
    /// Publishes numbered messages at <see cref="Rate"/>/s to a topic with one subscriber, does
    /// <paramref name="fail"/> to the silo hosting the topic after 3 s, and counts what arrived.
    /// </summary>
    private async Task<FailureRun> PublishThroughFailure(string topic, Action<ProgramProcess> fail, bool killTopicHost = true)
    {
        const int count = 15 * Rate;
        using var sub = Track(Client("sub", topic));
        await sub.WaitForLine(l => l.StartsWith("subscribed"), "the subscription", StartTimeout);

        // Where the topic lives is asked before publishing starts: asking takes a client process, whose
        // start can take seconds on a busy machine, and the failure must come while messages still flow.
        var host = (await Topic(topic)).Host!;
        var port = int.Parse(SiloPortPattern().Match(host).Groups[1].Value);
        var victim = killTopicHost ? _silos.Single(s => s.SiloPort == port).Process : _silos.First(s => s.SiloPort != port).Process;

        using var pub = Track(Client("pub", topic, "m-{n}", "--count", count.ToString(), "--rate", Rate.ToString()));
        await Eventually.WaitUntil(() => sub.Stdout.Count >= 3 * Rate, "three seconds of messages", StartTimeout);
        Assert.False(pub.HasExited, "the publisher was still publishing when the failure came");
        var lastBefore = sub.TimedStdout.Count;
        var failedAt = DateTime.UtcNow;
        fail(victim);

        await pub.WaitForExitAsync(TimeSpan.FromSeconds(120));
        var accepted = long.Parse(AcceptedPattern().Match(string.Join("\n", pub.Stdout)).Groups[1].Value);
        var received = sub.TimedStdout;
        await Eventually.WaitUntil(() =>
        {
            var now = sub.TimedStdout;
            received = now;
            return now.Count >= accepted || (now.Count > 0 && DateTime.UtcNow - now[^1].At > Settle);
        }, "the subscriber to settle", TimeSpan.FromSeconds(90));

        var numbers = received.Select(r => int.Parse(r.Line[2..])).ToList();
        var afterFailure = received.Skip(lastBefore).Where(r => r.At > failedAt).ToList();
        var firstAfter = afterFailure.Count > 0 ? afterFailure[0].At - failedAt : TimeSpan.MaxValue;
        var longestGap = received.Zip(received.Skip(1), (a, b) => b.At - a.At).DefaultIfEmpty().Max();
        var run = new FailureRun(
            Accepted: accepted,
            Failed: count - accepted,
            Received: numbers.Count,
            Duplicates: numbers.Count - numbers.Distinct().Count(),
            OutOfOrder: numbers.Zip(numbers.Skip(1)).Count(p => p.Second < p.First),
            Lost: accepted - numbers.Distinct().Count(),
            ReceivedAfterHeal: afterFailure.Count,
            LongestGap: longestGap);
        output.WriteLine($"{topic}: {run}; first delivery {firstAfter.TotalSeconds:0.00} s after the failure; at {Rate} msg/s");
        foreach (var line in OutOfOrderReport(received, numbers, failedAt))
        {
            output.WriteLine($"{topic}: {line}");
        }

        return run;
    }

    /// <summary>
    /// Each place where a number came after a larger one: the two numbers, when each was read relative to the failure,
    /// how many later messages overtook it and the numbers around it, so that a failed order assertion says which
    /// messages moved and how far.
    /// </summary>
    private static IEnumerable<string> OutOfOrderReport(IReadOnlyList<(DateTime At, string Line)> received, List<int> numbers, DateTime failedAt)
    {
        for (var i = 1; i < numbers.Count; i++)
        {
            if (numbers[i] >= numbers[i - 1])
            {
                continue;
            }

            var overtakenBy = numbers.Take(i).Count(n => n > numbers[i]);
            var around = numbers.Skip(Math.Max(0, i - 8)).Take(16).Select((n, k) => Math.Max(0, i - 8) + k == i ? $"[{n}]" : n.ToString());
            yield return $"out of order at #{i}: m-{numbers[i]} ({(received[i].At - failedAt).TotalSeconds:0.000} s after the failure) "
                + $"came after m-{numbers[i - 1]} ({(received[i - 1].At - failedAt).TotalSeconds:0.000} s), "
                + $"overtaken by {overtakenBy} later message(s); around it: {string.Join(' ', around)}";
        }
    }

    /// <summary>The first line in which a silo says it removed a subscription of <paramref name="topic"/>, with the time it was read.</summary>
    private (DateTime At, string Line)? RemovalLine(string topic) =>
        _silos.SelectMany(s => s.Process.TimedStdout)
            .Where(l => l.Line.Contains($"of topic '{topic}'") && l.Line.Contains("; removed"))
            .OrderBy(l => l.At)
            .Select(l => ((DateTime, string)?)l)
            .FirstOrDefault();

    private async Task<TopicInfo> Topic(string topic)
    {
        var result = await ProgramProcess.RunAsync("client", TimeSpan.FromSeconds(60), [.. ClusterArgs(), "topics"]);
        Assert.Equal(0, result.ExitCode);
        var cells = result.Stdout.Single(l => l.StartsWith(topic + " ")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return new TopicInfo(cells[0], int.Parse(cells[1]), new Dictionary<string, int>(), long.Parse(cells[3]), long.Parse(cells[4])) { Host = cells[6] };
    }

    private ProgramProcess Client(params string[] args) => ProgramProcess.Start("client", [.. ClusterArgs(), .. args]);

    private string[] ClusterArgs() => ["--redis", _redis.ConnectionString, "--cluster-id", _clusterId];

    private ProgramProcess Track(ProgramProcess process)
    {
        _processes.Add(process);
        return process;
    }

    [GeneratedRegex(@":(\d+):")]
    private static partial Regex SiloPortPattern();

    [GeneratedRegex(@"published (\d+) message")]
    private static partial Regex AcceptedPattern();

    private sealed record FailureRun(long Accepted, long Failed, long Received, long Duplicates, long OutOfOrder, long Lost, long ReceivedAfterHeal, TimeSpan LongestGap);
}
