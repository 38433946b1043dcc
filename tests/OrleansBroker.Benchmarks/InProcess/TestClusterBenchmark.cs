using System.Globalization;

namespace OrleansBroker.Benchmarks.InProcess;

/// <summary>ClusterBroker beside Orleans memory streams on one TestCluster silo, publisher and subscribers in this process.</summary>
internal static class TestClusterBenchmark
{
    public static async Task RunAsync(BenchmarkOptions options, bool tcp)
    {
        var brokerMessages = options.Quick ? 200_000 : 1_000_000;
        var streamMessages = options.Quick ? 20_000 : 100_000;
        await using var cluster = await BenchmarkCluster.StartAsync(tcp);
        var client = cluster.Client;

        // Warm both paths up (JIT, activations) before measuring.
        await Throughput.OrleansBrokerAsync(client, 1, 20_000, options.Size);
        await Throughput.MemoryStreamsAsync(client, 1, 2_000, options.Size);

        Console.WriteLine($"Deliveries/s, {options.Size}-byte bodies, one TestCluster silo ({(tcp ? "TCP" : "in-memory")} transport), {Environment.ProcessorCount} cores");
        Console.WriteLine($"{"scenario",-34} {"OrleansBroker",14} {"memory streams",15} {"ratio",8}");
        foreach (var subscribers in new[] { 1, 10 })
        {
            var broker = await Throughput.OrleansBrokerAsync(client, subscribers, brokerMessages / subscribers, options.Size);
            var streams = await Throughput.MemoryStreamsAsync(client, subscribers, streamMessages / subscribers, options.Size);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{$"1 publisher -> {subscribers} subscriber(s)",-34} {broker,14:N0} {streams,15:N0} {broker / streams,7:0.0}x"));
        }

        await cluster.StopAllSilosAsync();
    }
}
