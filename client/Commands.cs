using System.Diagnostics;

namespace OrleansBroker.Cli;

/// <summary>The client's three commands, each on a connected broker.</summary>
internal static class Commands
{
    // Publishes in flight at once for pub --count: enough to fill the broker's batches.
    private const int PublishWindow = 8192;

    public static async Task<int> PublishAsync(ClusterBroker broker, CommandLine command, TextWriter output, CancellationToken cancellationToken)
    {
        var count = command.Count ?? 1;
        var message = Message.FromString(command.Body, command.Header);
        var inFlight = new Queue<Task>();
        var clock = Stopwatch.StartNew();
        var nextProgress = TimeSpan.FromSeconds(1);
        long accepted = 0;
        for (long i = 0; i < count && !cancellationToken.IsCancellationRequested; i++)
        {
            inFlight.Enqueue(broker.PublishAsync(command.Topic, message, CancellationToken.None));
            while (inFlight.Count >= PublishWindow || (inFlight.Count > 0 && inFlight.Peek().IsCompleted))
            {
                await inFlight.Dequeue();
                accepted++;
            }

            if (clock.Elapsed >= nextProgress)
            {
                nextProgress += TimeSpan.FromSeconds(1);
                Progress($"published {accepted} of {count} ({accepted / clock.Elapsed.TotalSeconds:0} msg/s)");
            }
        }

        while (inFlight.Count > 0)
        {
            await inFlight.Dequeue();
            accepted++;
        }

        if (clock.Elapsed >= TimeSpan.FromSeconds(1))
        {
            Progress(null);
        }

        output.WriteLine($"published {accepted} message(s) to {command.Topic}");
        return accepted == count ? 0 : 130;
    }

    public static async Task<int> SubscribeAsync(ClusterBroker broker, CommandLine command, TextWriter output, CancellationToken cancellationToken)
    {
        var limit = command.Count ?? long.MaxValue;
        long received = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscriber = await broker.SubscribeAsync(command.Topic, (evt, _) =>
        {
            if (received >= limit)
            {
                return Task.CompletedTask;
            }

            var header = command.ShowHeaders
                ? "[" + string.Join(", ", evt.Message.Header.Select(h => $"{h.Key}={h.Value}")) + "] "
                : "";
            output.WriteLine(header + evt.Message.BodyAsString());
            if (++received >= limit)
            {
                done.TrySetResult();
            }

            return Task.CompletedTask;
        }, new SubscribeOptions { Queue = command.Queue }, cancellationToken);

        var queue = command.Queue is null ? "" : $" in queue group {command.Queue}";
        Console.Error.WriteLine($"subscribed to {command.Topic}{queue}; Ctrl-C to stop");
        await done.Task.WaitAsync(cancellationToken).ContinueWith(_ => { }, CancellationToken.None);
        await subscriber.UnsubscribeAsync(CancellationToken.None);
        return 0;
    }

    public static async Task<int> ListTopicsAsync(ClusterBroker broker, TextWriter output, CancellationToken cancellationToken)
    {
        var topics = await broker.ListTopicsAsync(cancellationToken);
        var rows = new List<string[]> { new[] { "TOPIC", "SUBSCRIBERS", "QUEUE GROUPS", "PUBLISHED", "DELIVERED", "DROPPED" } };
        rows.AddRange(topics.Select(t => new[]
        {
            t.Topic,
            t.Subscribers.ToString(),
            t.QueueGroups.Count == 0 ? "-" : string.Join(",", t.QueueGroups.Select(g => $"{g.Key}={g.Value}")),
            t.Published.ToString(),
            t.Delivered.ToString(),
            t.Dropped.ToString(),
        }));
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
        {
            output.WriteLine(string.Join("  ", row.Select((cell, c) => c == 0 || c == 2 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
        }

        if (topics.Count == 0)
        {
            output.WriteLine("(no topics)");
        }

        return 0;
    }

    /// <summary>Writes a progress line to standard error: rewritten in place on a terminal, one per second otherwise.</summary>
    private static void Progress(string? line)
    {
        if (Console.IsErrorRedirected)
        {
            if (line is not null)
            {
                Console.Error.WriteLine(line);
            }
        }
        else
        {
            Console.Error.Write(line is null ? "\r\x1b[K" : $"\r{line}\x1b[K");
        }
    }
}
