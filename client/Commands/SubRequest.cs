namespace OrleansBroker.Cli.Commands;

/// <summary>What sub was asked to do.</summary>
internal sealed record SubRequest
{
    public required string Topic { get; init; }

    /// <summary>Exit after this many messages; null: run until stopped.</summary>
    public long? Count { get; init; }

    public bool ShowHeaders { get; init; }

    /// <summary>The subscription's options: its queue group (null: every message), durability, ack wait, deliveries, pending acks.</summary>
    public SubscribeOptions Options { get; init; } = new();
}
