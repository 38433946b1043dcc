using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansBroker.Benchmarks;
using OrleansBroker.Benchmarks.Roles;

// OrleansBroker beside Orleans memory streams, Redis pub/sub and NATS core, each over real TCP
// between separate processes on loopback, in one run, then its durable subscriptions beside NATS
// JetStream and Redis Streams consumer groups:
//   dotnet run -c Release --project tests/OrleansBroker.Benchmarks -- [--quick] [--size N] [--json FILE] [--durable-only]
// and, with --testcluster, ClusterBroker beside memory streams on one in-process TestCluster silo.
// Redis and NATS come from Debian's packages (redis-server, nats-server); a missing one is skipped.
// The same program plays the child roles (--role silo|sub|pub|idle) the orchestrator starts.
Arguments arguments;
try
{
    arguments = new Arguments(args);
    if (arguments.WantsHelp)
    {
        return arguments.PrintHelp();
    }

    switch (arguments.Get("--role"))
    {
        case "silo":
            return await SiloRole.RunAsync(arguments.Int("--silo-port"), arguments.Int("--gateway-port"), arguments.Get("--durable-log"));
        case "sub" when arguments.Has("--durable"):
            return await DurableSubscriberRole.RunAsync(arguments.Get("--peer")!, arguments.Int("--port"), arguments.Get("--topic")!,
                arguments.Get("--queue") ?? throw new ArgumentException("--queue is required with --durable"), arguments.Has("--latency"));
        case "sub" when arguments.Has("--latency"):
            return await SubscriberRole.RunAsync(arguments.Get("--peer")!, arguments.Int("--port"), arguments.Get("--topic")!, 1, null, arguments.Int("--latency"));
        case "sub":
            return await SubscriberRole.RunAsync(arguments.Get("--peer")!, arguments.Int("--port"), arguments.Get("--topic")!,
                arguments.Int("--topics", 1), arguments.Get("--queue"), 0);
        case "idle":
            return await SubscriberRole.RunIdleAsync(arguments.Get("--peer")!, arguments.Int("--port"), arguments.Int("--count"));
        case "pub":
            return await PublisherRole.RunAsync(arguments.Get("--peer")!, arguments.Has("--durable"), arguments.Int("--port"), arguments.Get("--topic")!,
                arguments.Int("--topics", 1), arguments.Int("--count"), arguments.Int("--size", 256),
                arguments.Has("--rate") ? arguments.Int("--rate") : null, arguments.Int("--warmup", 0));
        case null:
            break;
        default:
            throw new ArgumentException($"unknown role '{arguments.Get("--role")}'");
    }
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"benchmarks: {ex.Message}");
    return 2;
}

BenchmarkOptions options;
try
{
    options = new BenchmarkOptions(arguments.Has("--quick"), arguments.Int("--size", 256), arguments.Get("--json"), arguments.Has("--durable-only"));
    arguments.ThrowOnUnknown("--quick", "--size", "--json", "--durable-only", "--testcluster", "--tcp");
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"benchmarks: {ex.Message} (options: --quick, --size N, --json FILE, --durable-only; --help)");
    return 2;
}

if (arguments.Has("--testcluster"))
{
    await OrleansBroker.Benchmarks.InProcess.TestClusterBenchmark.RunAsync(options, arguments.Has("--tcp"));
    return 0;
}

await using var orchestrator = new Orchestrator(options);
await orchestrator.StartPeersAsync();
var peers = orchestrator.PresentPeers.ToList();
var durablePeers = orchestrator.PresentDurablePeers.ToList();
Console.Error.WriteLine($"benchmarks: peers {string.Join(", ", (options.DurableOnly ? durablePeers : peers.Union(durablePeers)).Select(Peers.Title))}; " +
    $"{options.Size}-byte bodies; {(options.Quick ? "quick" : "full")} run{(options.DurableOnly ? ", durable scenarios only" : "")}");

if (!options.DurableOnly)
{
    var queueGroupPeers = new[] { Peers.OrleansBroker, Peers.Nats };
    foreach (var peer in peers)
    {
        var messages = options.Messages(peer);
        Console.Error.WriteLine($"benchmarks: {Peers.Title(peer)} ...");
        await orchestrator.ThroughputAsync("1 -> 1", peer, 1, null, 1, messages);
        await orchestrator.ThroughputAsync("1 -> 10 (fan-out)", peer, 10, null, 1, messages / 10);
        if (queueGroupPeers.Contains(peer))
        {
            await orchestrator.ThroughputAsync("10-member queue group", peer, 10, "workers", 1, messages);
        }

        await orchestrator.ThroughputAsync("1,000 topics, 1 subscriber each", peer, 1, null, 1000, messages);
        await orchestrator.LatencyAsync(peer, 10_000, options.LatencyDuration);
    }
}

// At-least-once: each publish awaits the store, each message is acked; window 512 for every peer.
foreach (var peer in durablePeers)
{
    Console.Error.WriteLine($"benchmarks: {Peers.Title(peer)} (durable) ...");
    await orchestrator.DurableThroughputAsync("durable 1 -> 1, acked", peer, 1, options.DurableMessages);
    await orchestrator.DurableThroughputAsync("durable 3-member group, acked", peer, 3, options.DurableMessages);
    await orchestrator.LatencyAsync(peer, 2_000, options.LatencyDuration, durable: true);
}

if (!options.DurableOnly)
{
    foreach (var count in options.Quick ? new[] { 10_000 } : [10_000, 100_000])
    {
        await orchestrator.MemoryPerSubscriptionAsync(count);
    }

    Report.Print(orchestrator.Results.Where(r => !r.Durable).ToList(), peers, Console.Out);
    Console.Out.WriteLine();
}

Report.Print(orchestrator.Results.Where(r => r.Durable).ToList(), durablePeers, Console.Out);
if (options.Json is { } json)
{
    await File.WriteAllTextAsync(json, JsonSerializer.Serialize(new { options.Size, options.Quick, Machine = $"{Environment.ProcessorCount} cores", orchestrator.Results },
        new JsonSerializerOptions { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals }));
}

return 0;
