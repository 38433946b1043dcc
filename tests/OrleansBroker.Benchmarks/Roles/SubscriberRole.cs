using System.Diagnostics;
using HdrHistogram;

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
        long count = 0, first = 0, last = 0;
        // Latency in ticks (100 ns), up to a minute, three significant digits.
        var latencies = new LongConcurrentHistogram(1, TimeSpan.TicksPerMinute, 3);
        foreach (var name in Peers.Topics(topic, topicCount))
        {
            await transport.SubscribeAsync(name, queue, body =>
            {
                var now = DateTime.UtcNow.Ticks;
                var n = Interlocked.Increment(ref count);
                if (n == 1)
                {
                    Volatile.Write(ref first, now);
                }

                if (latencySamples > 0 && body.Length >= 8)
                {
                    latencies.RecordValue(Math.Clamp(now - BitConverter.ToInt64(body.Span), 1, TimeSpan.TicksPerMinute));
                }

                Volatile.Write(ref last, now);
            });
        }

        Console.WriteLine("subscribed");
        // Console.In reads synchronously even through its async methods: read it on a thread of its own.
        var input = Task.Run(() => Console.In.ReadToEnd());
        long reported = -1;
        while (!input.IsCompleted)
        {
            var now = Interlocked.Read(ref count);
            if (now != reported)
            {
                reported = now;
                Console.WriteLine($"stat {now} {Volatile.Read(ref first)} {Volatile.Read(ref last)}");
            }

            await Task.WhenAny(input, Task.Delay(50));
        }

        string Percentile(double p) => latencies.TotalCount == 0 ? "0" : (latencies.GetValueAtPercentile(p) / 10.0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
        Console.WriteLine($"final {count} {first} {last} {Percentile(50)} {Percentile(99)} {Percentile(99.9)}");
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
