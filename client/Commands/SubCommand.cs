using System.CommandLine;
using OrleansBroker.Internal;

namespace OrleansBroker.Cli.Commands;

/// <summary>
/// <c>sub TOPIC [--queue Q [--durable ...]] [--count N] [--headers]</c>: prints each message's body on its own line
/// as it arrives, until N have come or Ctrl-C; says on standard error when the cluster is lost and back.
/// A durable member acks each message once it is printed.
/// </summary>
internal sealed class SubCommand : Command
{
    public SubCommand(ConnectionOptions connection)
        : base("sub", "Print messages as they arrive")
    {
        Topic.Validators.Add(result => OptionValues.Check(result, () => Validation.ValidateReadableTopic(result.GetValueOrDefault<string>())));
        Queue.Validators.Add(result => OptionValues.Check(result, () => Validation.ValidateQueue(result.GetValueOrDefault<string?>())));
        Add(Topic);
        Add(Queue);
        Add(Count);
        Add(Headers);
        Add(Durable);
        Add(AckWait);
        Add(MaxDeliver);
        Add(MaxAckPending);
        Validators.Add(connection.Validate);
        Validators.Add(result =>
        {
            if (result.GetValue(Durable) && result.GetValue(Queue) is null)
            {
                result.AddError("--durable needs --queue: the pair (topic, queue) names the durable subscription");
            }
            else if (!result.GetValue(Durable)
                && new Option[] { AckWait, MaxDeliver, MaxAckPending }.FirstOrDefault(o => result.GetResult(o) is not null) is { } option)
            {
                result.AddError($"{option.Name} applies to a durable subscription only (add --durable)");
            }
        });
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
        CustomParser = OptionValues.Positive("--count"),
    };

    public Option<bool> Headers { get; } = new("--headers") { Description = "Print each message's header before its body" };

    public Option<bool> Durable { get; } = new("--durable")
    {
        Description = "Join the durable subscription (TOPIC, Q): it keeps messages until acked, connected or not; each is acked once printed",
    };

    public Option<TimeSpan?> AckWait { get; } = new("--ack-wait")
    {
        Description = "Durable: redeliver a message not acked this long after it arrived (default 30s)",
        HelpName = "DURATION",
        CustomParser = OptionValues.Duration("--ack-wait"),
    };

    public Option<long?> MaxDeliver { get; } = new("--max-deliver")
    {
        Description = "Durable: deliveries of a message before it is dead-lettered (default 10)",
        HelpName = "N",
        CustomParser = OptionValues.Positive("--max-deliver"),
    };

    public Option<long?> MaxAckPending { get; } = new("--max-ack-pending")
    {
        Description = "Durable: unacked messages out at once, all members together (default 1000)",
        HelpName = "N",
        CustomParser = OptionValues.Positive("--max-ack-pending"),
    };

    /// <summary>What <paramref name="result"/> asks sub to do; call only on a result without errors.</summary>
    public SubRequest Bind(ParseResult result) => new()
    {
        Topic = result.GetRequiredValue(Topic),
        Count = result.GetValue(Count),
        ShowHeaders = result.GetValue(Headers),
        Options = DurableOptions(result, new SubscribeOptions { Queue = result.GetValue(Queue), Durable = result.GetValue(Durable) }),
    };

    private SubscribeOptions DurableOptions(ParseResult result, SubscribeOptions options) => options with
    {
        AckWait = result.GetValue(AckWait) ?? options.AckWait,
        MaxDeliver = (int)Math.Min(result.GetValue(MaxDeliver) ?? options.MaxDeliver, int.MaxValue),
        MaxAckPending = (int)Math.Min(result.GetValue(MaxAckPending) ?? options.MaxAckPending, int.MaxValue),
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
                // Past --count, before the unsubscribe lands: a durable message not printed goes back for another member.
                return evt.NakAsync(TimeSpan.Zero, CancellationToken.None);
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
        }, request.Options, cancellationToken);

        var queue = request.Options switch
        {
            { Queue: null } => "",
            { Durable: true } => $" as a member of durable subscription {request.Options.Queue}",
            _ => $" in queue group {request.Options.Queue}",
        };
        Console.Error.WriteLine($"subscribed to {request.Topic}{queue}; Ctrl-C to stop");
        await done.Task.WaitAsync(cancellationToken).ContinueWith(_ => { }, CancellationToken.None);
        await subscriber.UnsubscribeAsync(CancellationToken.None);
        return 0;
    }
}
