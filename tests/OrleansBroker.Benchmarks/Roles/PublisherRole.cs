using OrleansBroker.Benchmarks.Transports;

namespace OrleansBroker.Benchmarks.Roles;

/// <summary>
/// A publisher process: publishes COUNT bodies round robin over the topics, with a bounded window
/// of publishes in flight, as fast as it can or at a fixed rate. At a fixed rate each body starts
/// with the time it was due (UTC ticks), not the time it was sent, so a stall is counted in full
/// (no coordinated omission). Durable: each publish completes when the peer's store confirmed it.
/// Prints "start TICKS" and "published COUNT TICKS". With a warm-up of W it first publishes W
/// bodies the same way, untimed, prints "warmed W" once all are confirmed and waits for "go" on standard input.
/// </summary>
internal static class PublisherRole
{
    public static async Task<int> RunAsync(string peer, bool durable, int port, string topic, int topicCount, long count, int size, double? rate, long warmup = 0)
    {
        await using IPublisher transport = durable ? await Peers.ConnectDurableAsync(peer, port) : await Peers.ConnectAsync(peer, port);
        var topics = Peers.Topics(topic, topicCount);
        var fixedBody = new byte[Math.Max(size, 8)];
        if (warmup > 0)
        {
            // Untimed, the same way as the timed part: then wait for the orchestrator's "go" (all of it acked).
            await PublishAsync(transport, topics, warmup, size, rate, fixedBody);
            Console.WriteLine($"warmed {warmup}");
            var go = await Task.Run(Console.In.ReadLine);
            if (go != "go")
            {
                return 1;
            }
        }

        var start = await PublishAsync(transport, topics, count, size, rate, fixedBody, print: true);
        Console.WriteLine($"published {count} {DateTime.UtcNow.Ticks}");
        return 0;
    }

    /// <summary>Publishes <paramref name="count"/> bodies and waits for every publish; returns the start (UTC ticks).</summary>
    private static async Task<long> PublishAsync(IPublisher transport, string[] topics, long count, int size, double? rate, byte[] fixedBody, bool print = false)
    {
        var window = new Queue<Task>();
        var start = DateTime.UtcNow.Ticks;
        if (print)
        {
            Console.WriteLine($"start {start}");
        }

        for (long i = 0; i < count; i++)
        {
            byte[] body;
            if (rate is { } perSecond)
            {
                var due = start + (long)(i * TimeSpan.TicksPerSecond / perSecond);
                var wait = due - DateTime.UtcNow.Ticks;
                if (wait > TimeSpan.TicksPerMillisecond)
                {
                    await Task.Delay(TimeSpan.FromTicks(wait));
                }

                body = new byte[Math.Max(size, 8)];
                BitConverter.TryWriteBytes(body, due);
            }
            else
            {
                // One shared body, never written to again: brokers may hold it without copying.
                body = fixedBody;
            }

            window.Enqueue(transport.PublishAsync(topics[i % topics.Length], body));
            while (window.Count >= transport.PublishWindow || (window.Count > 0 && window.Peek().IsCompleted))
            {
                await window.Dequeue();
            }
        }

        await Task.WhenAll(window);
        return start;
    }
}
