using System.Globalization;
using System.Text.Json;
using OrleansBroker.Benchmarks;

// Throughput of OrleansBroker beside Orleans memory streams, on one TestCluster silo in one run.
//   --quick        fewer messages (well under two minutes)
//   --size N       body bytes (default 256)
//   --tcp          the TestCluster's real TCP transport instead of the in-memory one
//   --json FILE    also write the results as JSON
var quick = args.Contains("--quick");
var tcp = args.Contains("--tcp");
var size = 256;
string? json = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--size" when i + 1 < args.Length && int.TryParse(args[i + 1], out var s) && s >= 0:
            size = s;
            i++;
            break;
        case "--json" when i + 1 < args.Length:
            json = args[++i];
            break;
        case "--quick" or "--tcp":
            break;
        default:
            Console.Error.WriteLine($"benchmarks: unknown or incomplete argument '{args[i]}' (--quick, --tcp, --size N, --json FILE)");
            return 2;
    }
}

var brokerMessages = quick ? 200_000 : 1_000_000;
var streamMessages = quick ? 20_000 : 100_000;
await using var cluster = await BenchmarkCluster.StartAsync(tcp);
var client = cluster.Client;

// Warm both paths up (JIT, activations) before measuring.
await Throughput.OrleansBrokerAsync(client, 1, 20_000, size);
await Throughput.MemoryStreamsAsync(client, 1, 2_000, size);

var results = new List<Result>();
foreach (var subscribers in new[] { 1, 10 })
{
    var broker = await Throughput.OrleansBrokerAsync(client, subscribers, brokerMessages / subscribers, size);
    var streams = await Throughput.MemoryStreamsAsync(client, subscribers, streamMessages / subscribers, size);
    results.Add(new Result($"1 publisher -> {subscribers} subscriber(s)", broker, streams, broker / streams));
}

Console.WriteLine($"Deliveries/s, {size}-byte bodies, one TestCluster silo ({(tcp ? "TCP" : "in-memory")} transport), {Environment.ProcessorCount} cores");
Console.WriteLine($"{"scenario",-34} {"OrleansBroker",14} {"memory streams",15} {"ratio",8}");
foreach (var r in results)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{r.Scenario,-34} {r.OrleansBroker,14:N0} {r.MemoryStreams,15:N0} {r.Ratio,7:0.0}x"));
}

if (json is not null)
{
    await File.WriteAllTextAsync(json, JsonSerializer.Serialize(new { size, tcp, results }, new JsonSerializerOptions { WriteIndented = true }));
}

await cluster.StopAllSilosAsync();
return 0;

internal sealed record Result(string Scenario, double OrleansBroker, double MemoryStreams, double Ratio);
