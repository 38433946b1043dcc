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
        long count = 0, first = 0, last = 0;
        var latencies = new long[latencySamples];
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

                if (n <= latencies.Length && body.Length >= 8)
                {
                    latencies[n - 1] = now - BitConverter.ToInt64(body.Span);
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

        var samples = latencies.Take((int)Math.Min(count, latencies.Length)).Order().ToArray();
        string Percentile(double p) => samples.Length == 0 ? "0" : (samples[(int)Math.Min(samples.Length - 1, p * samples.Length)] / 10.0).ToString("0.0");
        Console.WriteLine($"final {count} {first} {last} {Percentile(0.5)} {Percentile(0.99)} {Percentile(0.999)}");
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
