namespace OrleansBroker;

/// <summary>One durable subscription of a topic, as <see cref="TopicInfo.Durables"/> lists it.</summary>
/// <param name="Queue">The durable subscription's queue name.</param>
/// <param name="Members">Connected members now.</param>
/// <param name="Backlog">Messages kept and not yet acked (those waiting for an ack included).</param>
/// <param name="AckPending">Messages delivered and waiting for an ack.</param>
/// <param name="Redelivered">Deliveries after the first, in total.</param>
/// <param name="DeadLettered">Messages moved to the dead-letter topic after <see cref="SubscribeOptions.MaxDeliver"/> deliveries.</param>
public sealed record DurableInfo(
    string Queue,
    int Members,
    long Backlog,
    long AckPending,
    long Redelivered,
    long DeadLettered)
{
    /// <summary>Where the durable subscription's grain lives now: its silo's address (null for an in-process broker).</summary>
    public string? Host { get; init; }
}
