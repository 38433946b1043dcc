using HdrHistogram;

namespace OrleansBroker.Benchmarks.Roles;

/// <summary>
/// A subscriber process's counts: deliveries (or acks) with the first and last time (UTC ticks),
/// and, when the bodies carry their send time, publish-to-handler latency. Reports them on
/// standard output as "stat COUNT FIRST LAST" while they change and "final COUNT FIRST LAST P50 P99 P99.9" (microseconds) at the end.
/// A "reset" line on standard input (sent after a warm-up, once every warm-up message was counted and
/// before anything timed is published) starts the counts and the latencies again from nothing; it is
/// answered with a "stat" line of the new counts and then "reset".
/// </summary>
internal sealed class DeliveryStats(bool latency)
{
    // Latency in ticks (100 ns), up to a minute, three significant digits.
    private LongConcurrentHistogram _latencies = NewHistogram();
    private long _count;
    private long _first;
    private long _last;

    /// <summary>A body handed to the handler and counted at once (plain subscriptions).</summary>
    public void Delivered(ReadOnlyMemory<byte> body)
    {
        var now = DateTime.UtcNow.Ticks;
        RecordLatency(body, now);
        Count(1, now);
    }

    /// <summary>A body handed to the handler, to be counted when acked (durable subscriptions).</summary>
    public void Received(ReadOnlyMemory<byte> body) => RecordLatency(body, DateTime.UtcNow.Ticks);

    public void Acked(int messages) => Count(messages, DateTime.UtcNow.Ticks);

    /// <summary>Prints "stat" lines until standard input is closed, then the "final" line; resets on a "reset" line.</summary>
    public async Task ReportUntilClosedAsync()
    {
        // Console.In reads synchronously even through its async methods: read it on a thread of its own.
        var resets = 0;
        var input = Task.Run(() =>
        {
            while (Console.In.ReadLine() is { } line)
            {
                if (line == "reset")
                {
                    Interlocked.Increment(ref resets);
                }
            }
        });
        long reported = -1;
        var done = 0;
        while (!input.IsCompleted)
        {
            if (Volatile.Read(ref resets) > done)
            {
                // Only this loop prints, so no "stat" line of the warm-up can follow the "reset" line.
                done++;
                Reset();
                reported = 0;
                Console.WriteLine("stat 0 0 0");
                Console.WriteLine("reset");
            }

            var now = Interlocked.Read(ref _count);
            if (now != reported)
            {
                reported = now;
                Console.WriteLine($"stat {now} {Volatile.Read(ref _first)} {Volatile.Read(ref _last)}");
            }

            await Task.WhenAny(input, Task.Delay(50));
        }

        Console.WriteLine($"final {Interlocked.Read(ref _count)} {Volatile.Read(ref _first)} {Volatile.Read(ref _last)} {Percentile(50)} {Percentile(99)} {Percentile(99.9)}");
    }

    private static LongConcurrentHistogram NewHistogram() => new(1, TimeSpan.TicksPerMinute, 3);

    // Nothing is in flight when the orchestrator asks for it: the warm-up is all acked and nothing timed is published yet.
    private void Reset()
    {
        Volatile.Write(ref _latencies, NewHistogram());
        Interlocked.Exchange(ref _count, 0);
        Volatile.Write(ref _first, 0);
        Volatile.Write(ref _last, 0);
    }

    private void RecordLatency(ReadOnlyMemory<byte> body, long now)
    {
        if (latency && body.Length >= 8)
        {
            Volatile.Read(ref _latencies).RecordValue(Math.Clamp(now - BitConverter.ToInt64(body.Span), 1, TimeSpan.TicksPerMinute));
        }
    }

    private void Count(int messages, long now)
    {
        if (Interlocked.Add(ref _count, messages) == messages)
        {
            Volatile.Write(ref _first, now);
        }

        Volatile.Write(ref _last, now);
    }

    private string Percentile(double p) => _latencies.TotalCount == 0
        ? "0"
        : (_latencies.GetValueAtPercentile(p) / 10.0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
}
