using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;
using OrleansBroker.Durable;
using OrleansBroker.Internal;
using OrleansBroker.Tests.Infrastructure;
using StackExchange.Redis;

namespace OrleansBroker.Tests.Processes;

/// <summary>
/// The single silo's store (an embedded Garnet under --data-dir): what the silo stored is there again
/// after a kill -9 and a restart on the same directory, and a directory it cannot use stops it with one line.
/// </summary>
public sealed class LocalStoreTests : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(45);

    private readonly string _dataDir = ProgramProcess.NewDataDir();
    private readonly List<ProgramProcess> _processes = [];

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        ProgramProcess.DeleteDirectory(_dataDir);
    }

    [Fact]
    public async Task TopicState_SurvivesAKillAndRestartOfTheSilo()
    {
        var gatewayPort = ProgramProcess.FreePort();
        var gateway = $"127.0.0.1:{gatewayPort}";
        string[] siloArgs = ["--data-dir", _dataDir, "--silo-port", ProgramProcess.FreePort().ToString(), "--gateway-port", gatewayPort.ToString(),
            "--dashboard-port", "0", "--lease", "00:05:00"];
        var first = await StartSiloAsync(siloArgs);

        // Subscribing stores the subscription in the topic's grain state.
        var sub = Track(ProgramProcess.Start("client", "--gateway", gateway, "sub", "kept"));
        await sub.WaitForLine(l => l.StartsWith("subscribed to kept"), "the subscription", StartTimeout);
        var topics = await ProgramProcess.RunAsync("client", RunTimeout, "topics", "--gateway", gateway);
        Assert.Equal(["kept", "1"], Assert.Single(topics.Stdout, l => l.StartsWith("kept ")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[..2]);

        // The subscriber dies first, so nothing renews or re-attaches it: only the store can bring it back.
        sub.Kill();
        first.Kill();
        await StartSiloAsync(siloArgs);

        using var host = await ConnectAsync(gatewayPort);
        var admin = host.Services.GetRequiredService<IBrokerAdmin>();
        var kept = await admin.GetTopicAsync("kept");
        Assert.NotNull(kept);
        Assert.Equal(1, kept.Subscribers);
    }

    [Fact]
    public async Task DurableLog_SurvivesAKillAndRestartOfTheSilo()
    {
        var storePort = ProgramProcess.FreePort();
        string[] siloArgs = ["--data-dir", _dataDir, "--silo-port", ProgramProcess.FreePort().ToString(), "--gateway-port", ProgramProcess.FreePort().ToString(),
            "--dashboard-port", "0", "--store-port", storePort.ToString()];
        var first = await StartSiloAsync(siloArgs);

        // Written straight to the silo's store, as the silo's own log writes: small batches, a large one, a trim.
        var big = Enumerable.Range(0, 4096).Select(i =>
        {
            var body = new byte[1024];
            new Random(i).NextBytes(body);
            return new Message(body, new Dictionary<string, string> { ["i"] = i.ToString() });
        }).ToList();
        long last;
        await using (var log = OpenLog(storePort))
        {
            for (var i = 0; i < 50; i++)
            {
                await log.AppendAsync("crash", [Message.FromString($"m{i * 2}"), Message.FromString($"m{(i * 2) + 1}")]);
            }

            await log.TrimAsync("crash", 11);
            Assert.Equal(101, await log.AppendAsync("crash", big));
            last = await log.AppendAsync("crash", [Message.FromString("last")]);
            Assert.Equal(4197, last);
        }

        // Killed at once after the last answer: an answered write is in the append-only file.
        first.Kill();
        await StartSiloAsync(siloArgs);

        await using var after = OpenLog(storePort);
        Assert.Equal(last, await after.LastAsync("crash"));
        var read = new List<LoggedMessage>();
        while (read.Count < last - 10)
        {
            read.AddRange(await after.ReadAsync("crash", 11 + read.Count, 1000));
        }

        Assert.Equal(11, read[0].Sequence);
        Assert.Equal(Enumerable.Range(10, 90).Select(i => $"m{i}"), read.Take(90).Select(m => m.Message.BodyAsString()));
        for (var i = 0; i < big.Count; i++)
        {
            Assert.Equal(big[i].Body.ToArray(), read[90 + i].Message.Body.ToArray());
            Assert.Equal(i.ToString(), read[90 + i].Message.Header["i"]);
        }

        Assert.Equal("last", read[^1].Message.BodyAsString());
        Assert.Equal(last + 1, await after.AppendAsync("crash", [Message.FromString("next")]));
    }

    [Fact]
    public async Task DataDirThatIsAFile_ExitsWithOneLine()
    {
        var file = Path.Combine(_dataDir, "a-file");
        await File.WriteAllTextAsync(file, "not a directory");
        var silo = await ProgramProcess.RunAsync("silo", RunTimeout, "--data-dir", file, "--dashboard-port", "0");
        Assert.Equal(2, silo.ExitCode);
        Assert.Equal([$"silo: Broker:DataDir '{file}' is a file, not a directory"], silo.Stderr);

        var under = await ProgramProcess.RunAsync("silo", RunTimeout, "--data-dir", Path.Combine(file, "sub"), "--dashboard-port", "0");
        Assert.Equal(2, under.ExitCode);
        Assert.StartsWith($"silo: Broker:DataDir '{Path.Combine(file, "sub")}' cannot be used: ", Assert.Single(under.Stderr));
    }

    [Fact]
    public async Task DataDirOfARunningSilo_IsRefused()
    {
        await StartSiloAsync("--data-dir", _dataDir, "--silo-port", ProgramProcess.FreePort().ToString(), "--gateway-port", ProgramProcess.FreePort().ToString(), "--dashboard-port", "0");
        var second = await ProgramProcess.RunAsync("silo", RunTimeout, "--data-dir", _dataDir,
            "--silo-port", ProgramProcess.FreePort().ToString(), "--gateway-port", ProgramProcess.FreePort().ToString(), "--dashboard-port", "0");
        Assert.Equal(2, second.ExitCode);
        Assert.StartsWith($"silo: Broker:DataDir '{_dataDir}' cannot be used: ", Assert.Single(second.Stderr));
    }

    private async Task<ProgramProcess> StartSiloAsync(params string[] args)
    {
        var silo = Track(ProgramProcess.Start("silo", args));
        await silo.WaitForLine(l => l.Contains("OrleansBroker silo ready"), "the silo to be ready", StartTimeout);
        return silo;
    }

    private ProgramProcess Track(ProgramProcess process)
    {
        _processes.Add(process);
        return process;
    }

    // The silo writes a new password for its store at each start, readable by this user only.
    private RedisDurableLog OpenLog(int storePort) =>
        new(new ConfigurationOptions { EndPoints = { { "127.0.0.1", storePort } }, Password = File.ReadAllText(Path.Combine(_dataDir, "store.password")) }, "test:log:");

    private static async Task<IHost> ConnectAsync(int gatewayPort)
    {
        var host = new HostBuilder()
            .UseOrleansClient(client => client
                .Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = ClusterDefaults.ClusterId;
                    o.ServiceId = ClusterDefaults.ClusterId;
                })
                .UseStaticClustering(new IPEndPoint(IPAddress.Loopback, gatewayPort))
                .AddClusterBroker())
            .Build();
        await host.StartAsync();
        await host.Services.GetRequiredService<IBroker>().ConnectAsync();
        return host;
    }
}
