using System.CommandLine;
using OrleansBroker.Internal;

namespace OrleansBroker.Cli.Commands;

/// <summary>
/// <c>sub TOPIC [--queue Q] [--count N] [--headers]</c>: prints each message's body on its own line
/// as it arrives, until N have come or Ctrl-C; says on standard error when the cluster is lost and back.
/// </summary>
internal sealed class SubCommand : Command
{
    public SubCommand(ConnectionOptions connection)
        : base("sub", "Print messages as they arrive")
    {
        Topic.Validators.Add(result => OptionValues.Check(result, () => Validation.ValidateTopic(result.GetValueOrDefault<string>())));
        Queue.Validators.Add(result => OptionValues.Check(result, () => Validation.ValidateQueue(result.GetValueOrDefault<string?>())));
        Add(Topic);
        Add(Queue);
        Add(Count);
        Add(Headers);
        Validators.Add(connection.Validate);
        SetAction((result, cancellationToken) => RunAsync(connection.Bind(result), Bind(result), cancellationToken));
    }

    public Argument<string> Topic { get; } = new("TOPIC") { Description = "The topic to subscribe to" };

    public Option<string?> Queue { get; } = new("--queue")
    {
        Description = "Join this queue group: each message goes to one member",
        HelpName = "Q",
    };

    public Option<long?> Count { get; } = new("--count")
    {
        Description = "Exit after N messages",
        HelpName = "N",
        CustomParser = OptionValues.Count,
    };

    public Option<bool> Headers { get; } = new("--headers") { Description = "Print each message's header before its body" };

    /// <summary>What <paramref name="result"/> asks sub to do; call only on a result without errors.</summary>
    public SubRequest Bind(ParseResult result) => new()
    {
        Topic = result.GetRequiredValue(Topic),
        Queue = result.GetValue(Queue),
        Count = result.GetValue(Count),
        ShowHeaders = result.GetValue(Headers),
    };

    private static async Task<int> RunAsync(ConnectionSettings settings, SubRequest request, CancellationToken cancellationToken)
    {
        await using var connection = await ClusterConnection.ConnectAsync(settings, ClientTls.Load(settings),
            client => ClusterWatch.AddTo(client, Console.Error), cancellationToken);
        return await SubscribeAsync(connection.Broker, request, Console.Out, cancellationToken);
    }

    /// <summary>Subscribes and prints what arrives until Count messages have or <paramref name="cancellationToken"/> is cancelled; then unsubscribes.</summary>
    public static async Task<int> SubscribeAsync(IBroker broker, SubRequest request, TextWriter output, CancellationToken cancellationToken)
    {
        var limit = request.Count ?? long.MaxValue;
        long received = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscriber = await broker.SubscribeAsync(request.Topic, (evt, _) =>
        {
            if (received >= limit)
            {
                return Task.CompletedTask;
            }

            var header = request.ShowHeaders
                ? "[" + string.Join(", ", evt.Message.Header.Select(h => $"{h.Key}={h.Value}")) + "] "
                : "";
            output.WriteLine(header + evt.Message.BodyAsString());
            if (++received >= limit)
            {
                done.TrySetResult();
            }

            return Task.CompletedTask;
        }, new SubscribeOptions { Queue = request.Queue }, cancellationToken);

        var queue = request.Queue is null ? "" : $" in queue group {request.Queue}";
        Console.Error.WriteLine($"subscribed to {request.Topic}{queue}; Ctrl-C to stop");
        await done.Task.WaitAsync(cancellationToken).ContinueWith(_ => { }, CancellationToken.None);
        await subscriber.UnsubscribeAsync(CancellationToken.None);
        return 0;
    }
}
