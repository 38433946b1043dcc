using OrleansBroker.Cli;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Processes;

/// <summary>The real silo and client programs, as separate processes over real TCP on loopback.</summary>
public sealed class ProgramTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task SiloAndClients_PassAMessage_ListTheTopic_AndStopCleanly()
    {
        var siloPort = ProgramProcess.FreePort();
        var gatewayPort = ProgramProcess.FreePort();
        var gateway = $"127.0.0.1:{gatewayPort}";
        var dashboardPort = ProgramProcess.FreePort();
        using var silo = ProgramProcess.Start("silo", "--silo-port", siloPort.ToString(), "--gateway-port", gatewayPort.ToString(),
            "--dashboard-port", dashboardPort.ToString());
        await silo.WaitForLine(l => l.Contains("OrleansBroker silo ready"), "the silo to be ready", StartTimeout);

        // The dashboard is served on loopback for a person to watch.
        using (var http = new HttpClient())
        {
            var page = await http.GetStringAsync($"http://127.0.0.1:{dashboardPort}/");
            Assert.Contains("Orleans Dashboard", page);

            // So are the health endpoints, with no port of their own.
            Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{dashboardPort}/health/live")).StatusCode);
            Assert.Equal("Healthy: the silo is Active in its cluster\n", await http.GetStringAsync($"http://127.0.0.1:{dashboardPort}/health/ready"));
        }

        using var sub = ProgramProcess.Start("client", "--gateway", gateway, "sub", "orders", "--count", "2", "--headers");
        await sub.WaitForLine(l => l.StartsWith("subscribed to orders"), "the subscription", StartTimeout);

        var topics = await ProgramProcess.RunAsync("client", RunTimeout, "topics", "--gateway", gateway);
        Assert.Equal(0, topics.ExitCode);
        var row = Assert.Single(topics.Stdout, l => l.StartsWith("orders ")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["orders", "1", "-", "0", "0", "0"], row[..6]);
        Assert.StartsWith($"S127.0.0.1:{siloPort}:", row[6]);

        var hello = await ProgramProcess.RunAsync("client", RunTimeout, "pub", "orders", "hello", "--header", "k=v", "--gateway", gateway);
        var world = await ProgramProcess.RunAsync("client", RunTimeout, "pub", "orders", "world", "--gateway", gateway);
        Assert.Equal(0, hello.ExitCode);
        Assert.Equal(["published 1 message(s) to orders"], hello.Stdout);
        Assert.Equal(0, world.ExitCode);

        await sub.WaitForExitAsync(RunTimeout);
        Assert.Equal(0, sub.ExitCode);
        Assert.Equal(["[k=v] hello", "[] world"], sub.Stdout);

        // A body too large for one argument (Linux allows 128 KiB), read from standard input and sent as it came.
        var big = Enumerable.Range(0, 200_000).Select(i => (byte)('a' + i % 26)).ToArray();
        using (var bigSub = ProgramProcess.Start("client", "--gateway", gateway, "sub", "big", "--count", "1"))
        {
            await bigSub.WaitForLine(l => l.StartsWith("subscribed to big"), "the subscription", StartTimeout);
            using var stdinPub = ProgramProcess.Start("client", "pub", "big", "-", "--gateway", gateway);
            await stdinPub.SendStandardInputAsync(big);
            await stdinPub.WaitForExitAsync(RunTimeout);
            Assert.Equal((0, "published 1 message(s) to big"), (stdinPub.ExitCode, Assert.Single(stdinPub.Stdout)));
            await bigSub.WaitForExitAsync(RunTimeout);
            Assert.Equal(System.Text.Encoding.ASCII.GetString(big), Assert.Single(bigSub.Stdout));
        }

        // The subscriber unsubscribed on its way out: the topic counts nobody now.
        var after = await ProgramProcess.RunAsync("client", RunTimeout, "topics", "--gateway", gateway);
        Assert.Equal(["orders", "0", "-", "2", "2", "0"],
            Assert.Single(after.Stdout, l => l.StartsWith("orders ")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[..6]);

        silo.Terminate();
        await silo.WaitForExitAsync(RunTimeout);
        Assert.Equal(0, silo.ExitCode);
    }

    [Fact]
    public async Task Subscriber_SurvivesARestartOfItsOnlySilo_WithoutResubscribing()
    {
        var siloPort = ProgramProcess.FreePort().ToString();
        var gatewayPort = ProgramProcess.FreePort().ToString();
        var gateway = $"127.0.0.1:{gatewayPort}";
        string[] siloArgs = ["--silo-port", siloPort, "--gateway-port", gatewayPort, "--dashboard-port", "0", "--lease", "00:00:03"];
        using var first = ProgramProcess.Start("silo", siloArgs);
        await first.WaitForLine(l => l.Contains("OrleansBroker silo ready"), "the silo to be ready", StartTimeout);

        using var sub = ProgramProcess.Start("client", "--gateway", gateway, "sub", "restart", "--count", "2");
        await sub.WaitForLine(l => l.StartsWith("subscribed to restart"), "the subscription", StartTimeout);
        Assert.Equal(0, (await ProgramProcess.RunAsync("client", RunTimeout, "pub", "restart", "before", "--gateway", gateway)).ExitCode);
        await Eventually.WaitUntil(() => sub.Stdout.Contains("before"), "the first message");

        // kill -9: the silo's memory storage, topic and subscription are all gone with it.
        first.Kill();
        await sub.WaitForLine(l => l == ClusterWatch.LostLine, "the subscriber to say it lost the cluster", RunTimeout);
        using var second = ProgramProcess.Start("silo", siloArgs);
        await second.WaitForLine(l => l.Contains("OrleansBroker silo ready"), "the new silo to be ready", StartTimeout);

        // The subscriber's lease renewals find the subscription lost and re-attach it.
        await Eventually.WaitUntil(async () =>
        {
            var topics = await ProgramProcess.RunAsync("client", RunTimeout, "topics", "--gateway", gateway);
            return topics.Stdout.Any(l => l.StartsWith("restart ") && l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] == "1");
        }, "the subscription to be re-attached", TimeSpan.FromSeconds(60));
        Assert.Equal(0, (await ProgramProcess.RunAsync("client", RunTimeout, "pub", "restart", "after", "--gateway", gateway)).ExitCode);

        await sub.WaitForExitAsync(RunTimeout);
        Assert.Equal(["before", "after"], sub.Stdout);

        // Said once each, in order, however often Orleans' gateway connections opened and closed meanwhile.
        Assert.Equal([ClusterWatch.LostLine, ClusterWatch.BackLine], sub.Stderr.Where(l => l is ClusterWatch.LostLine or ClusterWatch.BackLine));
    }

    [Fact]
    public async Task Client_NoSiloAnswering_ExitsNonZeroWithOneLine()
    {
        var started = DateTime.UtcNow;
        var client = await ProgramProcess.RunAsync("client", RunTimeout, "topics", "--gateway", $"127.0.0.1:{ProgramProcess.FreePort()}");
        Assert.Equal(1, client.ExitCode);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(30), "an unreachable silo is reported within 30 s");
        var line = Assert.Single(client.Stderr);
        Assert.StartsWith("client: no silo answers at 127.0.0.1:", line);
        Assert.EndsWith("connection refused", line);
        Assert.Empty(client.Stdout);
    }

    [Theory]
    [InlineData(2, "client: Invalid topic", "pub", "bad topic", "x")]
    [InlineData(2, "client: unknown command 'frob'", "frob")]
    [InlineData(2, "client: Invalid queue", "sub", "t", "--queue", "a b")]
    [InlineData(2, "client: Invalid header", "pub", "t", "x", "--header", "a:b=c")]
    [InlineData(2, "client: --count wants a positive number", "pub", "t", "x", "--count", "-1")]
    [InlineData(2, "client: --count wants a positive number, not 'abc'", "sub", "t", "--count", "abc")]
    [InlineData(2, "client: unknown option --bogus", "topics", "--bogus")]
    public async Task Client_BadInput_ExitsNonZeroWithoutAStackTrace(int exitCode, string message, params string[] args)
    {
        // The gateway is dead on purpose: bad input is refused before any connection is tried.
        var client = await ProgramProcess.RunAsync("client", RunTimeout, [.. args, "--gateway", $"127.0.0.1:{ProgramProcess.FreePort()}"]);
        Assert.Equal(exitCode, client.ExitCode);
        Assert.StartsWith(message, Assert.Single(client.Stderr));
    }

    [Fact]
    public async Task Client_NoCommand_ShowsTheUsage_AndHelpToo()
    {
        var none = await ProgramProcess.RunAsync("client", RunTimeout, "--gateway", "127.0.0.1:1");
        Assert.Equal(2, none.ExitCode);
        Assert.Equal("client: no command given (pub, sub, topics, durable)", none.Stderr[0]);
        Assert.Contains(none.Stderr, l => l.StartsWith("Usage:"));

        var help = await ProgramProcess.RunAsync("client", RunTimeout, "sub", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains(help.Stdout, l => l.Contains("sub <TOPIC> [options]"));
        Assert.Contains(help.Stdout, l => l.TrimStart().StartsWith("--queue"));
    }

    [Fact]
    public async Task Silo_BadPort_ExitsWithOneLine()
    {
        var silo = await ProgramProcess.RunAsync("silo", RunTimeout, "--gateway-port", "70000");
        Assert.Equal(2, silo.ExitCode);
        Assert.Equal(["silo: Broker:GatewayPort must be a port number (1-65535); it is 70000"], silo.Stderr);
    }

    [Fact]
    public async Task Silo_BadLimit_ExitsWithOneLine()
    {
        var silo = await ProgramProcess.RunAsync("silo", RunTimeout, "--Broker:MaxSubscriptionBytes=10");
        Assert.Equal(2, silo.ExitCode);
        Assert.Equal(["silo: Broker:MaxMessageBytes and Broker:MaxPendingLimit must be at least 1, and Broker:MaxSubscriptionBytes at least Broker:MaxMessageBytes; they are 1048576, 1048576 and 10"], silo.Stderr);
    }
}
