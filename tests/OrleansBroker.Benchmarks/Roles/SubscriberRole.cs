using System.Diagnostics;

namespace OrleansBroker.Benchmarks.Roles;

/// <summary>
/// A subscriber process: subscribes, counts deliveries, prints "stat COUNT FIRST LAST" (UTC ticks)
/// as they go, and at the end (standard input closed) "final ..." with latency percentiles when
/// the bodies carry their send time.
/// </summary>
internal static class SubscriberRole
{
    public static async Task<int> RunAsync(string peer, int port, string topic, int topicCount, string? queue, int latencySamples)
    {
        await using var transport = await Peers.ConnectAsync(peer, port);
        var stats = new DeliveryStats(latencySamples > 0);
        foreach (var name in Peers.Topics(topic, topicCount))
        {
            await transport.SubscribeAsync(name, queue, stats.Delivered);
        }

        Console.WriteLine("subscribed");
        await stats.ReportUntilClosedAsync();
        return 0;
    }

    /// <summary>Subscribes <paramref name="count"/> idle subscriptions (ten per topic) for the memory measurement.</summary>
    public static async Task<int> RunIdleAsync(string peer, int port, int count)
    {
        await using var transport = await Peers.ConnectAsync(peer, port);
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 64 },
            async (i, _) => await transport.SubscribeAsync($"idle.{i / 10}", null, _ => { }));
        Console.WriteLine($"subscribed {count} {clock.Elapsed.TotalSeconds:0.0}");
        await Console.In.ReadToEndAsync();
        return 0;
    }
}
