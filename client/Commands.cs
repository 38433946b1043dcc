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
        var numbered = command.Body.Contains("{n}", StringComparison.Ordinal);
        var fixedMessage = Message.FromString(command.Body, command.Header);
        var tally = new PublishTally();
        var inFlight = new Queue<Task>();
        var clock = Stopwatch.StartNew();
        var nextProgress = TimeSpan.FromSeconds(1);
        for (long i = 0; i < count && !cancellationToken.IsCancellationRequested; i++)
        {
            if (command.Rate is { } rate && TimeSpan.FromSeconds(i / rate) - clock.Elapsed is { Ticks: > 0 } ahead)
            {
                await Task.Delay(ahead, cancellationToken).ContinueWith(_ => { }, CancellationToken.None);
            }

            var message = numbered ? Message.FromString(command.Body.Replace("{n}", (i + 1).ToString()), command.Header) : fixedMessage;
            inFlight.Enqueue(broker.PublishAsync(command.Topic, message, CancellationToken.None));
            while (inFlight.Count >= PublishWindow || (inFlight.Count > 0 && inFlight.Peek().IsCompleted))
            {
                await tally.Await(inFlight.Dequeue());
            }

            if (clock.Elapsed >= nextProgress)
            {
                nextProgress += TimeSpan.FromSeconds(1);
                Progress($"published {tally.Accepted} of {count} ({tally.Accepted / clock.Elapsed.TotalSeconds:0} msg/s, {tally.Failed} failed)");
            }
        }

        while (inFlight.Count > 0)
        {
            await tally.Await(inFlight.Dequeue());
        }

        if (clock.Elapsed >= TimeSpan.FromSeconds(1))
        {
            Progress(null);
        }

        if (count == 1 && tally.FirstError is { } only)
        {
            throw only;
        }

        output.WriteLine($"published {tally.Accepted} message(s) to {command.Topic}");
        if (tally.FirstError is { } error)
        {
            Console.Error.WriteLine($"client: {tally.Failed} message(s) were not accepted; the first error: {error.Message}");
            return 1;
        }

        return tally.Accepted == count ? 0 : 130;
    }

    /// <summary>Counts accepted and failed publishes: one failure (a silo dying, say) does not end a long run.</summary>
    private sealed class PublishTally
    {
        public long Accepted { get; private set; }

        public long Failed { get; private set; }

        public BrokerException? FirstError { get; private set; }

        public async Task Await(Task publish)
        {
            try
            {
                await publish;
                Accepted++;
            }
            catch (BrokerException ex) when (ex.Code == BrokerErrorCode.Unavailable)
            {
                Failed++;
                FirstError ??= ex;
            }
        }
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
        var rows = new List<string[]> { new[] { "TOPIC", "SUBSCRIBERS", "QUEUE GROUPS", "PUBLISHED", "DELIVERED", "DROPPED", "HOST" } };
        rows.AddRange(topics.Select(t => new[]
        {
            t.Topic,
            t.Subscribers.ToString(),
            t.QueueGroups.Count == 0 ? "-" : string.Join(",", t.QueueGroups.Select(g => $"{g.Key}={g.Value}")),
            t.Published.ToString(),
            t.Delivered.ToString(),
            t.Dropped.ToString(),
            t.Host ?? "-",
        }));
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
        {
            output.WriteLine(string.Join("  ", row.Select((cell, c) => c is 0 or 2 or 6 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
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
