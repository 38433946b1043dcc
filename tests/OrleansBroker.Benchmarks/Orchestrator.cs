using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using OrleansBroker.Benchmarks.Roles;
using OrleansBroker.Benchmarks.Transports;

namespace OrleansBroker.Benchmarks;

/// <summary>
/// Runs every scenario against every peer that is present, each peer in its own processes over
/// real TCP on loopback: a silo process (OrleansBroker and memory streams), redis-server and
/// nats-server from Debian's packages, one publisher process and subscriber processes. The durable
/// rows get servers of their own: nats-server with JetStream on file storage, and redis-server
/// with an append-only file fsynced every second, both in a temporary directory.
/// </summary>
internal sealed class Orchestrator(BenchmarkOptions options) : IAsyncDisposable
{
    // The durable subscription's name on every peer (JetStream's durable consumer, Redis' consumer group, OrleansBroker's queue).
    private const string DurableGroup = "bench";

    // The percentiles of a latency row, by their place on the subscriber's "final" line.
    private static readonly (string Name, int Index)[] Percentiles = [("p50", 4), ("p99", 5), ("p99.9", 6)];

    private readonly List<Process> _servers = [];
    private readonly Dictionary<string, int> _ports = [];
    private readonly string _storage = Directory.CreateTempSubdirectory("orleansbroker-bench-").FullName;
    private Process? _silo;

    public List<Result> Results { get; } = [];

    public async Task StartPeersAsync()
    {
        // Durable peers write every message to a file and fsync in the background (JetStream's default
        // sync_interval is two minutes; appendfsync everysec once a second), as neither fsyncs each write by default.
        await StartServerAsync(Peers.JetStream, "nats-server", port => ["-a", "127.0.0.1", "-p", port.ToString(), "-js", "-sd", Path.Combine(_storage, "jetstream")], "Server is ready");
        await StartServerAsync(Peers.RedisStreams, "redis-server", port => ["--port", port.ToString(), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "everysec", "--dir", _storage], "Ready to accept connections");

        // OrleansBroker's durable log goes to that same Redis, as a cluster's goes to its Redis.
        string[] durableLog = _ports.TryGetValue(Peers.RedisStreams, out var redisStreams) ? ["--durable-log", $"127.0.0.1:{redisStreams}"] : [];
        var siloPort = FreePort();
        _ports[Peers.OrleansBroker] = _ports[Peers.MemoryStreams] = FreePort();
        _silo = StartSelf(["--role", "silo", "--silo-port", siloPort.ToString(), "--gateway-port", _ports[Peers.OrleansBroker].ToString(), .. durableLog]);
        await WaitForLine(_silo, "ready", TimeSpan.FromSeconds(60));

        if (!options.DurableOnly)
        {
            await StartServerAsync(Peers.Redis, "redis-server", port => ["--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], "Ready to accept connections");
            await StartServerAsync(Peers.Nats, "nats-server", port => ["-a", "127.0.0.1", "-p", port.ToString()], "Server is ready");
        }
    }

    public IEnumerable<string> PresentPeers => Peers.All.Where(_ports.ContainsKey);

    public IEnumerable<string> PresentDurablePeers => Peers.Durable.Where(_ports.ContainsKey);

    /// <summary>Deliveries per second for one scenario and one peer; null when the peer cannot run it.</summary>
    public Task ThroughputAsync(string scenario, string peer, int subscribers, string? queue, int topicCount, long messages) =>
        ThroughputAsync(scenario, peer, subscribers, queue, topicCount, messages, durable: false);

    /// <summary>Acks per second, first publish to last ack, for <paramref name="members"/> members of one durable subscription.</summary>
    public Task DurableThroughputAsync(string scenario, string peer, int members, long messages) =>
        ThroughputAsync(scenario, peer, members, DurableGroup, 1, messages, durable: true);

    private async Task ThroughputAsync(string scenario, string peer, int subscribers, string? queue, int topicCount, long messages, bool durable)
    {
        var topic = $"bench.{Guid.NewGuid():N}";
        var subs = new List<Process>();
        var admin = durable ? await CreateDurableAsync(peer, topic) : null;
        try
        {
            for (var i = 0; i < subscribers; i++)
            {
                subs.Add(StartSelf(["--role", "sub", "--peer", peer, "--port", _ports[peer].ToString(), "--topic", topic,
                    "--topics", topicCount.ToString(), .. queue is null ? Array.Empty<string>() : ["--queue", queue], .. DurableFlag(durable)]));
            }

            foreach (var sub in subs)
            {
                if (await WaitForSubscribedAsync(sub) is { } reason)
                {
                    Results.Add(Unavailable(scenario, peer, "acks/s", reason));
                    return;
                }
            }

            var expected = queue is null ? messages * subscribers : messages;
            var warmup = durable ? options.DurableWarmup : 0;
            using var pub = StartSelf(["--role", "pub", "--peer", peer, "--port", _ports[peer].ToString(), "--topic", topic,
                "--topics", topicCount.ToString(), "--count", messages.ToString(), "--size", options.Size.ToString(), "--warmup", warmup.ToString(), .. DurableFlag(durable)]);
            var warmNote = await WarmUpAsync(pub, subs, warmup);
            var start = long.Parse((await WaitForLine(pub, "start", TimeSpan.FromSeconds(60))).Split(' ')[1]);
            var deadline = DateTime.UtcNow + options.ScenarioTimeout;
            var stats = subs.Select(_ => (Count: 0L, Last: 0L)).ToArray();
            while (stats.Sum(s => s.Count) < expected && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
                for (var i = 0; i < subs.Count; i++)
                {
                    stats[i] = LatestStat(subs[i], stats[i]);
                }
            }

            var delivered = stats.Sum(s => s.Count);
            var seconds = TimeSpan.FromTicks(stats.Max(s => s.Last) - start).TotalSeconds;
            Results.Add(new Result(scenario, peer, durable ? "acks/s" : "deliveries/s", delivered / seconds, Join(delivered < expected ? $"timed out: {delivered} of {expected}" : null, warmNote))
            {
                Durable = durable,
            });
        }
        finally
        {
            await StopAllAsync(subs);
            await DeleteDurableAsync(admin, topic);
        }
    }

    /// <summary>
    /// Publish-to-handler latency at a fixed rate, one subscriber (durable: the one member of a
    /// durable subscription, acking each message): p50, p99 and p99.9 in microseconds.
    /// </summary>
    public async Task LatencyAsync(string peer, int rate, TimeSpan duration, bool durable = false)
    {
        var topic = $"bench.latency.{Guid.NewGuid():N}";
        var messages = (long)(rate * duration.TotalSeconds);
        var scenario = $"{(durable ? "durable latency" : "latency")} {{0}} at {rate}/s";
        var admin = durable ? await CreateDurableAsync(peer, topic) : null;
        try
        {
            using var sub = StartSelf(["--role", "sub", "--peer", peer, "--port", _ports[peer].ToString(), "--topic", topic, "--latency", messages.ToString(),
                .. durable ? ["--queue", DurableGroup, "--durable"] : Array.Empty<string>()]);
            if (await WaitForSubscribedAsync(sub) is { } reason)
            {
                Results.AddRange(Percentiles.Select(p => Unavailable(string.Format(scenario, p.Name), peer, "microseconds", reason)));
                return;
            }

            await MeasureLatencyAsync(sub, peer, topic, rate, duration, messages, scenario, durable);
        }
        finally
        {
            await DeleteDurableAsync(admin, topic);
        }
    }

    /// <summary>
    /// Silo memory per idle OrleansBroker subscription, two ways: the managed heap after a full
    /// collection (what the subscriptions keep alive) and the resident set (what the machine pays).
    /// </summary>
    public async Task MemoryPerSubscriptionAsync(int subscriptions)
    {
        var heapBefore = await SiloHeapAsync();
        var residentBefore = ResidentBytes(_silo!);
        using var sub = StartSelf("--role", "idle", "--peer", Peers.OrleansBroker, "--port", _ports[Peers.OrleansBroker].ToString(), "--count", subscriptions.ToString());
        await WaitForLine(sub, "subscribed", TimeSpan.FromMinutes(5));
        await Task.Delay(TimeSpan.FromSeconds(3));
        var heapAfter = await SiloHeapAsync();
        var residentAfter = ResidentBytes(_silo!);
        Results.Add(new Result($"silo heap per idle subscription ({subscriptions:N0})", Peers.OrleansBroker, "bytes",
            (heapAfter - heapBefore) / (double)subscriptions, null));
        Results.Add(new Result($"silo resident memory per idle subscription ({subscriptions:N0})", Peers.OrleansBroker, "bytes",
            (residentAfter - residentBefore) / (double)subscriptions, null));
        sub.StandardInput.Close();
        await sub.WaitForExitAsync();
    }

    private async Task<long> SiloHeapAsync()
    {
        _silo!.StandardInput.WriteLine("heap");
        return long.Parse((await WaitForLine(_silo, "heap ", TimeSpan.FromSeconds(60))).Split(' ')[1]);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAllAsync(_silo is null ? _servers : [.. _servers, _silo]);
        Directory.Delete(_storage, recursive: true);
    }

    private async Task MeasureLatencyAsync(Process sub, string peer, string topic, int rate, TimeSpan duration, long messages, string scenario, bool durable)
    {
        var warmup = durable ? (long)(rate * options.LatencyWarmup.TotalSeconds) : 0;
        using var pub = StartSelf(["--role", "pub", "--peer", peer, "--port", _ports[peer].ToString(), "--topic", topic,
            "--count", messages.ToString(), "--size", options.Size.ToString(), "--rate", rate.ToString(), "--warmup", warmup.ToString(), .. DurableFlag(durable)]);
        var warmNote = await WarmUpAsync(pub, [sub], warmup);
        await WaitForLine(pub, "published", duration + options.ScenarioTimeout);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        var stat = (Count: 0L, Last: 0L);
        while (stat.Count < messages && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            stat = LatestStat(sub, stat);
        }

        sub.StandardInput.Close();
        var final = (await WaitForLine(sub, "final", TimeSpan.FromSeconds(30))).Split(' ');
        var note = Join(stat.Count < messages ? $"{stat.Count} of {messages} arrived" : null, warmNote);
        foreach (var (name, index) in Percentiles)
        {
            Results.Add(new Result(string.Format(scenario, name), peer, "microseconds", double.Parse(final[index], System.Globalization.CultureInfo.InvariantCulture), note)
            {
                Durable = durable,
            });
        }
    }

    /// <summary>
    /// The untimed warm-up, the same for every peer: waits for the publisher's "warmed" (all
    /// <paramref name="warmup"/> published and confirmed), then for the subscribers' acks of all of
    /// them, has each subscriber reset its counts and latencies, and tells the publisher to go on
    /// with the timed part. Null when it all went through; a note when it did not.
    /// </summary>
    private async Task<string?> WarmUpAsync(Process pub, IReadOnlyList<Process> subs, long warmup)
    {
        if (warmup == 0)
        {
            return null;
        }

        await WaitForLine(pub, "warmed", options.ScenarioTimeout + options.LatencyWarmup);
        var deadline = DateTime.UtcNow + options.ScenarioTimeout;
        var stats = subs.Select(_ => (Count: 0L, Last: 0L)).ToArray();
        while (stats.Sum(s => s.Count) < warmup && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
            for (var i = 0; i < subs.Count; i++)
            {
                stats[i] = LatestStat(subs[i], stats[i]);
            }
        }

        foreach (var sub in subs)
        {
            sub.StandardInput.WriteLine("reset");
        }

        foreach (var sub in subs)
        {
            await WaitForLine(sub, l => l == "reset", "reset", TimeSpan.FromSeconds(30));
        }

        pub.StandardInput.WriteLine("go");
        var acked = stats.Sum(s => s.Count);
        return acked < warmup ? $"warm-up: {acked} of {warmup} acked" : null;
    }

    private static string? Join(string? a, string? b) => a is null ? b : b is null ? a : $"{a}; {b}";

    private static string[] DurableFlag(bool durable) => durable ? ["--durable"] : [];

    private static Result Unavailable(string scenario, string peer, string unit, string reason) =>
        new(scenario, peer, unit, double.NaN, $"not available in this build ({reason})") { Durable = true };

    /// <summary>Makes the durable subscription from this process, before its members join; the connection is kept to drop it afterwards.</summary>
    private async Task<IDurableTransport> CreateDurableAsync(string peer, string topic)
    {
        var admin = await Peers.ConnectDurableAsync(peer, _ports[peer]);
        await admin.CreateAsync(topic, DurableGroup);
        return admin;
    }

    private static async Task DeleteDurableAsync(IDurableTransport? admin, string topic)
    {
        if (admin is not null)
        {
            await admin.DeleteAsync(topic, DurableGroup);
            await admin.DisposeAsync();
        }
    }

    /// <summary>Null once the subscriber has subscribed; the reason when its peer has no durable subscriptions in this build.</summary>
    private static async Task<string?> WaitForSubscribedAsync(Process sub)
    {
        var line = await WaitForLine(sub, l => l.StartsWith("subscribed") || l.StartsWith("unavailable "), "subscribed", TimeSpan.FromSeconds(60));
        return line.StartsWith("unavailable ") ? line["unavailable ".Length..] : null;
    }

    private async Task StartServerAsync(string peer, string program, Func<int, string[]> args, string readyLine)
    {
        var path = Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists)
            ?? new[] { "/usr/bin", "/usr/sbin" }.Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);
        if (path is null)
        {
            Console.Error.WriteLine($"benchmarks: {program} is not installed (Debian: apt-get install {program}); {Peers.Title(peer)} is skipped");
            return;
        }

        var port = FreePort();
        var server = Start(path, args(port));
        _servers.Add(server);
        await WaitForLine(server, readyLine, TimeSpan.FromSeconds(30), includeStderr: true);
        _ports[peer] = port;
    }

    private static (long Count, long Last) LatestStat(Process sub, (long Count, long Last) previous)
    {
        if (Outputs[sub].Last(l => l.StartsWith("stat ")) is not { } line)
        {
            return previous;
        }

        var cells = line.Split(' ');
        return (long.Parse(cells[1]), long.Parse(cells[3]));
    }

    private static readonly Dictionary<Process, ProcessOutput> Outputs = [];

    private Process StartSelf(params string[] args) => Start("dotnet", [Environment.GetCommandLineArgs()[0], .. args]);

    private static Process Start(string program, string[] args)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        var output = new ProcessOutput();
        lock (Outputs)
        {
            Outputs[process] = output;
        }

        process.OutputDataReceived += (_, e) => output.Add(e.Data);
        process.ErrorDataReceived += (_, e) => output.Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static Task<string> WaitForLine(Process process, string prefix, TimeSpan timeout, bool includeStderr = false) =>
        WaitForLine(process, l => includeStderr ? l.Contains(prefix) : l.StartsWith(prefix), prefix, timeout);

    private static async Task<string> WaitForLine(Process process, Func<string, bool> match, string prefix, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Outputs[process].TakeFirst(match) is { } line)
            {
                return line;
            }

            if (process.HasExited)
            {
                // Its last lines may still be on their way: WaitForExit returns once the redirected output has been read.
                await process.WaitForExitAsync();
                if (Outputs[process].TakeFirst(match) is { } last)
                {
                    return last;
                }

                throw new InvalidOperationException($"{process.StartInfo.FileName} exited ({process.ExitCode}) before '{prefix}': {Outputs[process].Tail()}");
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"no '{prefix}' from {string.Join(' ', process.StartInfo.ArgumentList)} within {timeout}: {Outputs[process].Tail()}");
    }

    private static async Task StopAllAsync(IEnumerable<Process> processes)
    {
        foreach (var process in processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.StandardInput.Close();
                    using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await process.WaitForExitAsync(grace.Token).ContinueWith(_ => { }, CancellationToken.None);
                    if (!process.HasExited)
                    {
                        process.Kill(entireProcessTree: true);
                    }
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
        }
    }

    private static long ResidentBytes(Process process)
    {
        var line = File.ReadLines($"/proc/{process.Id}/status").First(l => l.StartsWith("VmRSS:"));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One figure; <see cref="Durable"/> rows are reported in a table of their own, beside the durable peers.</summary>
internal sealed record Result(string Scenario, string Peer, string Unit, double Value, string? Note)
{
    public bool Durable { get; init; }
}
