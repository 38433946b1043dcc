namespace OrleansBroker.Cli.Commands;

/// <summary>What pub was asked to do.</summary>
internal sealed record PubRequest
{
    public required string Topic { get; init; }

    /// <summary>The body; null: read it from standard input.</summary>
    public MessageBody? Body { get; init; }

    public required Dictionary<string, string> Header { get; init; }

    public long Count { get; init; } = 1;

    /// <summary>Messages per second; null: as fast as the broker takes them.</summary>
    public double? Rate { get; init; }

    /// <summary>Time each publish, from its call to its completion, and print the distribution at the end.</summary>
    public bool ReportLatency { get; init; }
}
