using System.CommandLine;

namespace OrleansBroker.Cli.Commands;

/// <summary><c>topics</c>: a table of the cluster's topics and their figures, then one of their durable subscriptions.</summary>
internal sealed class TopicsCommand : Command
{
    public TopicsCommand(ConnectionOptions connection)
        : base("topics", "List topics and their figures")
    {
        Validators.Add(connection.Validate);
        SetAction(async (result, cancellationToken) =>
        {
            var settings = connection.Bind(result);
            await using var cluster = await ClusterConnection.ConnectAsync(settings, ClientTls.Load(settings), configure: null, cancellationToken);
            return await ListAsync(cluster.Broker, Console.Out, cancellationToken);
        });
    }

    public static async Task<int> ListAsync(IBrokerAdmin broker, TextWriter output, CancellationToken cancellationToken)
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
        WriteTable(output, rows, leftAligned: [0, 2, 6]);
        if (topics.Count == 0)
        {
            output.WriteLine("(no topics)");
        }

        var durables = topics.SelectMany(t => t.Durables.Select(d => (t.Topic, Durable: d))).ToList();
        if (durables.Count > 0)
        {
            // Named topic/queue, so no row here starts like a topic's row above.
            output.WriteLine();
            WriteTable(output, [
                ["DURABLE", "MEMBERS", "BACKLOG", "ACK-PENDING", "REDELIVERED", "DEAD-LETTERED", "HOST"],
                .. durables.Select(d => new[]
                {
                    $"{d.Topic}/{d.Durable.Queue}",
                    d.Durable.Members.ToString(),
                    d.Durable.Backlog.ToString(),
                    d.Durable.AckPending.ToString(),
                    d.Durable.Redelivered.ToString(),
                    d.Durable.DeadLettered.ToString(),
                    d.Durable.Host ?? "-",
                }),
            ], leftAligned: [0, 6]);
        }

        return 0;
    }

    private static void WriteTable(TextWriter output, List<string[]> rows, int[] leftAligned)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
        {
            output.WriteLine(string.Join("  ", row.Select((cell, c) => leftAligned.Contains(c) ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
        }
    }
}
