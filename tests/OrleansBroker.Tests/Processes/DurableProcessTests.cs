using OrleansBroker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Processes;

/// <summary>
/// At least once with real processes: a durable subscription under load through a kill -9 of the silo hosting its
/// topic, or of the silo hosting its grain (three silos, Redis membership and store, 1 s probes, 3 s lease);
/// and the default single silo killed and restarted on its data directory.
/// </summary>
public sealed class DurableProcessTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Rate = 100;
    private const int Seconds = 15;
    private const string Queue = "billing";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    private ProcessCluster? _cluster;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        _cluster?.Dispose();
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData("topic")]
    [InlineData("durable")]
    public async Task KillingTheSiloHostingThe_LosesNoAcceptedMessage(string victimOf)
    {
        _cluster = await ProcessCluster.StartAsync(3, ["--lease", "00:00:03", "--probe-timeout", "00:00:01", "--Broker:MissedProbes=2"], output);
        var topic = "durable-" + victimOf;
        using var sub = _cluster.Client("sub", topic, "--queue", Queue, "--durable", "--ack-wait", "3s");
        await sub.WaitForLine(l => l.StartsWith("subscribed"), "the subscription", StartTimeout);

        var host = victimOf == "topic" ? (await _cluster.Topic(topic)).Host! : (await _cluster.Durable(topic, Queue)).Host!;
        var victim = _cluster.SiloAt(host);
        using var pub = _cluster.Client("pub", topic, "m-{n}", "--count", (Seconds * Rate).ToString(), "--rate", Rate.ToString(), "--latency");
        await Eventually.WaitUntil(() => sub.Stdout.Count >= 3 * Rate, "three seconds of messages", StartTimeout);
        Assert.False(pub.HasExited, "the publisher was still publishing when the silo was killed");
        victim.Kill();

        await pub.WaitForExitAsync(TimeSpan.FromSeconds(Seconds + 120));
        var accepted = PublishThroughFailure.Accepted(pub);

        // Everything accepted comes, some of it twice: redelivered after the ack wait, or by the durable's next activation.
        await Eventually.WaitUntil(() => Numbers(sub).Distinct().Count() >= accepted, $"all {accepted} accepted messages", TimeSpan.FromSeconds(120));
        var numbers = Numbers(sub);
        var distinct = numbers.Distinct().ToList();
        output.WriteLine($"{topic}: accepted {accepted} of {Seconds * Rate}, received {numbers.Count}, duplicates {numbers.Count - distinct.Count}; {pub.Stdout.LastOrDefault()}");
        Assert.Equal(Enumerable.Range(1, (int)accepted), distinct.Where(n => n <= accepted).Order());
    }

    [Fact]
    public async Task DefaultSilo_KilledAndRestarted_DeliversTheBacklogInOrder()
    {
        var dataDir = ProgramProcess.NewDataDir();
        try
        {
            await RestartDefaultSilo(dataDir);
        }
        finally
        {
            ProgramProcess.DeleteDirectory(dataDir);
        }
    }

    private static async Task RestartDefaultSilo(string dataDir)
    {
        var gatewayPort = ProgramProcess.FreePort().ToString();
        string[] siloArgs = ["--silo-port", ProgramProcess.FreePort().ToString(), "--gateway-port", gatewayPort, "--dashboard-port", "0", "--data-dir", dataDir];
        var gateway = $"127.0.0.1:{gatewayPort}";

        // The durable subscription is made by its first member, which leaves after one message.
        using (var silo = ProgramProcess.Start("silo", siloArgs))
        {
            await silo.WaitForLine(l => l.Contains("OrleansBroker silo ready"), "the silo to be ready", StartTimeout);
            using var first = ProgramProcess.Start("client", "--gateway", gateway, "sub", "orders", "--queue", Queue, "--durable", "--count", "1");
            await first.WaitForLine(l => l.StartsWith("subscribed"), "the subscription", StartTimeout);
            Assert.Equal(0, (await ProgramProcess.RunAsync("client", RunTimeout, "--gateway", gateway, "pub", "orders", "m-0")).ExitCode);
            await first.WaitForExitAsync(RunTimeout);
            Assert.Equal(["m-0"], first.Stdout);

            // With no member connected, 500 are published and kept; then the silo dies without a chance to write anything.
            var pub = await ProgramProcess.RunAsync("client", RunTimeout, "--gateway", gateway, "pub", "orders", "m-{n}", "--count", "500");
            Assert.Equal(["published 500 message(s) to orders"], pub.Stdout);
            silo.Kill();
        }

        using var restarted = ProgramProcess.Start("silo", siloArgs);
        await restarted.WaitForLine(l => l.Contains("OrleansBroker silo ready"), "the silo to be ready again", StartTimeout);
        using var member = ProgramProcess.Start("client", "--gateway", gateway, "sub", "orders", "--queue", Queue, "--durable", "--count", "500");
        await member.WaitForExitAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(Enumerable.Range(1, 500).Select(n => $"m-{n}"), member.Stdout);
    }

    private static List<int> Numbers(ProgramProcess sub) => [.. sub.Stdout.Where(l => l.StartsWith("m-")).Select(l => int.Parse(l[2..]))];
}
