namespace OrleansBroker.Benchmarks.Transports;

/// <summary>
/// One peer's at-least-once path: a durable subscription (a group of members sharing it) that
/// keeps every message until a member acks it. <see cref="IPublisher.PublishAsync"/> completes
/// when the peer's store has confirmed the message; members ack each message explicitly.
/// </summary>
internal interface IDurableTransport : IPublisher
{
    /// <summary>The publish window of every durable row: publishes awaiting the store's confirmation at once.</summary>
    const int Window = 512;

    /// <summary>Unacked messages out at once per durable subscription, where the peer has such a limit (SubscribeOptions' and JetStream's default).</summary>
    const int MaxAckPending = 1_000;

    /// <summary>Makes the durable subscription <paramref name="group"/> on <paramref name="topic"/>, before anything is published to it.</summary>
    Task CreateAsync(string topic, string group);

    /// <summary>
    /// Joins the durable subscription as one member. <paramref name="onMessage"/> runs for each body
    /// as it arrives, one at a time; <paramref name="onAcked"/> with how many were acked once the peer
    /// has been told. A peer without durable subscriptions in this build throws <see cref="NotSupportedException"/>.
    /// </summary>
    Task SubscribeAsync(string topic, string group, Action<ReadOnlyMemory<byte>> onMessage, Action<int> onAcked);

    /// <summary>Drops the durable subscription and what it keeps.</summary>
    Task DeleteAsync(string topic, string group);
}
