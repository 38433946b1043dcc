namespace OrleansBroker.Benchmarks.Transports;

/// <summary>What the publisher role drives, plain or durable: one publish at a time, a bounded window of them in flight.</summary>
internal interface IPublisher : IAsyncDisposable
{
    /// <summary>Publishes one body; the task completes when the peer has taken it (for the publish window).</summary>
    Task PublishAsync(string topic, byte[] body);

    /// <summary>How many publishes may be in flight at once: what the peer's own limits allow.</summary>
    int PublishWindow { get; }
}
