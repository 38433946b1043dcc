using System.CommandLine;
using System.CommandLine.Parsing;
using System.Diagnostics;
using System.Text;
using OrleansBroker.Internal;

namespace OrleansBroker.Cli.Commands;

/// <summary><c>pub TOPIC [BODY] [--header k=v]... [--count N] [--rate R]</c>: publishes, and prints how many were accepted.</summary>
internal sealed class PubCommand : Command
{
    // Publishes in flight at once for --count: enough to fill the broker's batches.
    private const int PublishWindow = 8192;

    // The largest body the client lets through: the library's limit, which the silos' default matches.
    private static readonly int MaxMessageBytes = new BrokerOptions().MaxMessageBytes;

    public PubCommand(ConnectionOptions connection)
        : base("pub", "Publish a message")
    {
        Topic.Validators.Add(result => OptionValues.Check(result, () => Validation.ValidateTopic(result.GetValueOrDefault<string>())));
        Add(Topic);
        Add(Body);
        Add(Header);
        Add(Count);
        Add(Rate);
        Add(Latency);
        Validators.Add(connection.Validate);
        SetAction((result, cancellationToken) => RunAsync(connection.Bind(result), Bind(result), cancellationToken));
    }

    public Argument<string> Topic { get; } = new("TOPIC") { Description = "The topic to publish to" };

    public Argument<string?> Body { get; } = new("BODY")
    {
        Description = "The message body; {n} in it becomes the message's number (1..N). '-' or none: read from standard input, as it comes",
        Arity = ArgumentArity.ZeroOrOne,
    };

    public Option<Dictionary<string, string>> Header { get; } = new("--header")
    {
        Description = "A header entry (repeatable)",
        HelpName = "key=value",
        CustomParser = OptionValues.Header,
    };

    public Option<long?> Count { get; } = new("--count")
    {
        Description = "Publish the body N times",
        HelpName = "N",
        CustomParser = OptionValues.Positive("--count"),
    };

    public Option<double?> Rate { get; } = new("--rate")
    {
        Description = "At most R messages per second. Default: as fast as the broker takes them",
        HelpName = "R",
        CustomParser = OptionValues.Rate,
    };

    public Option<bool> Latency { get; } = new("--latency")
    {
        Description = "Print how long the publishes took, from each call to its completion (p50, p99, longest)",
    };

    /// <summary>What <paramref name="result"/> asks pub to do; call only on a result without errors.</summary>
    public PubRequest Bind(ParseResult result) => new()
    {
        Topic = result.GetRequiredValue(Topic),
        Body = result.GetValue(Body) is { } body and not "-" ? new MessageBody(Encoding.UTF8.GetBytes(body)) : null,
        Header = result.GetValue(Header) ?? new(StringComparer.Ordinal),
        Count = result.GetValue(Count) ?? 1,
        Rate = result.GetValue(Rate),
        ReportLatency = result.GetValue(Latency),
    };

    private async Task<int> RunAsync(ConnectionSettings settings, PubRequest request, CancellationToken cancellationToken)
    {
        // Read and checked before connecting: a body that is too large is bad input, found without a silo.
        var body = request.Body ?? await ReadStandardInputAsync(cancellationToken);
        Validation.ValidateMessage(new Message(body.Bytes, request.Header), MaxMessageBytes);
        await using var connection = await ClusterConnection.ConnectAsync(settings, ClientTls.Load(settings), configure: null, cancellationToken);
        return await PublishAsync(connection.Broker, request with { Body = body }, Console.Out, cancellationToken);
    }

    /// <summary>Publishes <paramref name="request"/>'s body Count times, at most Rate per second, a window of them in flight.</summary>
    public static async Task<int> PublishAsync(IBroker broker, PubRequest request, TextWriter output, CancellationToken cancellationToken)
    {
        var body = request.Body ?? throw new ArgumentException("No body to publish.", nameof(request));
        var count = request.Count;
        var fixedMessage = new Message(body.Bytes, request.Header);
        var tally = new PublishTally();
        var latencies = request.ReportLatency ? new List<TimeSpan>() : null;
        var inFlight = new Queue<Task>();
        var clock = Stopwatch.StartNew();
        var nextProgress = TimeSpan.FromSeconds(1);
        for (long i = 0; i < count && !cancellationToken.IsCancellationRequested; i++)
        {
            if (request.Rate is { } rate && TimeSpan.FromSeconds(i / rate) - clock.Elapsed is { Ticks: > 0 } ahead)
            {
                await Task.Delay(ahead, cancellationToken).ContinueWith(_ => { }, CancellationToken.None);
            }

            var message = body.IsNumbered ? new Message(body.For(i + 1), request.Header) : fixedMessage;
            var publish = broker.PublishAsync(request.Topic, message, CancellationToken.None);
            inFlight.Enqueue(latencies is null ? publish : TimedAsync(publish, clock, latencies));
            while (inFlight.Count >= PublishWindow || (inFlight.Count > 0 && inFlight.Peek().IsCompleted))
            {
                await tally.Await(inFlight.Dequeue());
            }

            if (clock.Elapsed >= nextProgress)
            {
                nextProgress += TimeSpan.FromSeconds(1);
                Progress.Write($"published {tally.Accepted} of {count} ({tally.Accepted / clock.Elapsed.TotalSeconds:0} msg/s, {tally.Failed} failed)");
            }
        }

        while (inFlight.Count > 0)
        {
            await tally.Await(inFlight.Dequeue());
        }

        if (clock.Elapsed >= TimeSpan.FromSeconds(1))
        {
            Progress.Write(null);
        }

        if (count == 1 && tally.FirstError is { } only)
        {
            throw only;
        }

        output.WriteLine($"published {tally.Accepted} message(s) to {request.Topic}");
        if (latencies is { Count: > 0 })
        {
            latencies.Sort();
            output.WriteLine($"publish latency: p50 {Milliseconds(latencies[(latencies.Count - 1) / 2])}, "
                + $"p99 {Milliseconds(latencies[(int)((latencies.Count - 1) * 0.99)])}, longest {Milliseconds(latencies[^1])}");
        }

        if (tally.FirstError is { } error)
        {
            Console.Error.WriteLine($"client: {tally.Failed} message(s) were not accepted; the first error: {error.Message}");
            return 1;
        }

        return tally.Accepted == count ? 0 : 130;
    }

    /// <summary>Completes as <paramref name="publish"/> does, noting how long it took from now (accepted or refused alike).</summary>
    private static async Task TimedAsync(Task publish, Stopwatch clock, List<TimeSpan> latencies)
    {
        var started = clock.Elapsed;
        try
        {
            await publish;
        }
        finally
        {
            // Continuations of one publisher's tasks may run on several threads.
            lock (latencies)
            {
                latencies.Add(clock.Elapsed - started);
            }
        }
    }

    private static string Milliseconds(TimeSpan time) => $"{time.TotalMilliseconds:0.0} ms";

    private static async Task<MessageBody> ReadStandardInputAsync(CancellationToken cancellationToken)
    {
        if (!Console.IsInputRedirected)
        {
            Console.Error.WriteLine("reading the body from standard input; Ctrl-D ends it");
        }

        await using var input = Console.OpenStandardInput();
        return await MessageBody.ReadAsync(input, MaxMessageBytes, cancellationToken);
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
}
