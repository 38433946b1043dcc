namespace OrleansBroker.Cli.Commands;

/// <summary>What sub was asked to do.</summary>
internal sealed record SubRequest
{
    public required string Topic { get; init; }

    /// <summary>The queue group to join; null: every message.</summary>
    public string? Queue { get; init; }

    /// <summary>Exit after this many messages; null: run until stopped.</summary>
    public long? Count { get; init; }

    public bool ShowHeaders { get; init; }
}
