using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A real cluster on loopback: an embedded Garnet (the Redis protocol), silo processes with Redis membership and
/// storage, and client processes. Disposing it kills every process it started, shows the silos' warnings with the
/// test's output, and, with ORLEANSBROKER_TEST_LOGS=&lt;directory&gt;, writes each process's whole output there.
/// </summary>
public sealed partial class ProcessCluster : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    // ORLEANSBROKER_TEST_LOGS=<directory>: the silos log Orleans at Information and the broker at Debug, and
    // each process's whole output, every line with the time it was read, is written there when the test ends.
    private static readonly string? LogDirectory = Environment.GetEnvironmentVariable("ORLEANSBROKER_TEST_LOGS");
    private static readonly string[] VerboseLogging = ["--Logging:LogLevel:Orleans=Information", "--Logging:LogLevel:OrleansBroker=Debug"];

    private readonly ITestOutputHelper _output;
    private readonly List<ProgramProcess> _processes = [];
    private readonly List<(ProgramProcess Process, int SiloPort)> _silos = [];
    private readonly string _clusterId = "test-" + Guid.NewGuid().ToString("N")[..8];
    private readonly RedisServer _redis;

    private ProcessCluster(ITestOutputHelper output)
    {
        _output = output;
        _redis = RedisServer.Start();
    }

    /// <summary>The silo processes, each with its silo port.</summary>
    public IReadOnlyList<(ProgramProcess Process, int SiloPort)> Silos => _silos;

    /// <summary>
    /// Starts <paramref name="silos"/> silo processes with <paramref name="siloArgs"/> (lease, failure detection, ...)
    /// and waits until each is ready.
    /// </summary>
    public static async Task<ProcessCluster> StartAsync(int silos, string[] siloArgs, ITestOutputHelper output)
    {
        var cluster = new ProcessCluster(output);
        try
        {
            for (var i = 0; i < silos; i++)
            {
                var siloPort = ProgramProcess.FreePort();
                var silo = cluster.Track(ProgramProcess.Start("silo", ["--clustering", "Redis", "--redis", cluster._redis.ConnectionString,
                    "--cluster-id", cluster._clusterId, "--silo-port", siloPort.ToString(), "--gateway-port", ProgramProcess.FreePort().ToString(),
                    "--dashboard-port", "0", .. siloArgs, .. (LogDirectory is null ? [] : VerboseLogging)]));
                cluster._silos.Add((silo, siloPort));
            }

            foreach (var (silo, _) in cluster._silos)
            {
                await silo.WaitForLine(l => l.Contains("OrleansBroker silo ready"), "a silo to be ready", StartTimeout);
            }

            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>Starts a client process of this cluster with <paramref name="args"/> (a command and its arguments).</summary>
    public ProgramProcess Client(params string[] args) => Track(ProgramProcess.Start("client", [.. ClusterArgs(), .. args]));

    /// <summary>Runs a client process of this cluster to its end.</summary>
    public async Task<ProgramProcess> RunClientAsync(TimeSpan timeout, params string[] args) =>
        Track(await ProgramProcess.RunAsync("client", timeout, [.. ClusterArgs(), .. args]));

    /// <summary>The topic's row of the client's <c>topics</c> command: subscribers, published, delivered and host.</summary>
    public async Task<TopicInfo> Topic(string topic)
    {
        var cells = await TopicsRow(topic);
        return new TopicInfo(cells[0], int.Parse(cells[1]), new Dictionary<string, int>(), long.Parse(cells[3]), long.Parse(cells[4])) { Host = cells[6] };
    }

    /// <summary>The durable subscription's row of the client's <c>topics</c> command: members, backlog, ack-pending, redelivered, dead-lettered and host.</summary>
    public async Task<DurableInfo> Durable(string topic, string queue)
    {
        var cells = await TopicsRow($"{topic}/{queue}");
        return new DurableInfo(queue, int.Parse(cells[1]), long.Parse(cells[2]), long.Parse(cells[3]), long.Parse(cells[4]), long.Parse(cells[5]))
        {
            Host = cells[6] == "-" ? null : cells[6],
        };
    }

    /// <summary>The cells of the <c>topics</c> command's row whose first cell is <paramref name="name"/>.</summary>
    private async Task<string[]> TopicsRow(string name)
    {
        var result = await RunClientAsync(TimeSpan.FromSeconds(60), "topics");
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"topics exited {result.ExitCode}: {string.Join(" ", result.Stderr)}");
        }

        return result.Stdout.Single(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The silo process at <paramref name="host"/> (a silo address as <see cref="TopicInfo.Host"/> gives it).</summary>
    public ProgramProcess SiloAt(string host) => _silos.Single(s => s.SiloPort == PortOf(host)).Process;

    /// <summary>A silo process other than the one at <paramref name="host"/>.</summary>
    public ProgramProcess SiloOtherThan(string host) => _silos.First(s => s.SiloPort != PortOf(host)).Process;

    /// <summary>The first line a silo wrote that <paramref name="match"/> accepts, with the time it was read.</summary>
    public (DateTime At, string Line)? FirstSiloLine(Func<string, bool> match) =>
        _silos.SelectMany(s => s.Process.TimedStdout)
            .Where(l => match(l.Line))
            .OrderBy(l => l.At)
            .Select(l => ((DateTime, string)?)l)
            .FirstOrDefault();

    public void Dispose()
    {
        // The silos' warnings and errors explain a failed run; they are shown with the test's output.
        foreach (var (silo, port) in _silos)
        {
            foreach (var line in silo.Stdout.Concat(silo.Stderr).Where(l => l.Contains(" warn: ") || l.Contains(" fail: ") || l.Contains(" crit: ")).Take(40))
            {
                _output.WriteLine($"silo {port}: {line}");
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

        _redis.Dispose();
    }

    private string[] ClusterArgs() => ["--redis", _redis.ConnectionString, "--cluster-id", _clusterId];

    private ProgramProcess Track(ProgramProcess process)
    {
        lock (_processes)
        {
            _processes.Add(process);
        }

        return process;
    }

    private static int PortOf(string host) => int.Parse(SiloPortPattern().Match(host).Groups[1].Value);

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

    [GeneratedRegex(@":(\d+):")]
    private static partial Regex SiloPortPattern();
}
