namespace OrleansBroker.Benchmarks.Transports;

/// <summary>One peer's publish and subscribe, as the benchmark drives them: the same calls for every peer.</summary>
internal interface ITransport : IPublisher
{
    /// <summary>Subscribes; <paramref name="onMessage"/> runs for each body, one at a time per subscription.</summary>
    Task SubscribeAsync(string topic, string? queue, Action<ReadOnlyMemory<byte>> onMessage);

    /// <summary>Whether this peer has queue groups at all.</summary>
    bool HasQueueGroups { get; }
}
