namespace OrleansBroker;

/// <summary>Per-subscription options (go-micro's SubscribeOptions).</summary>
public sealed record SubscribeOptions
{
    /// <summary>The default of <see cref="MaxPending"/>, as NATS' default pending-message limit.</summary>
    public const int DefaultMaxPending = 65_536;

    /// <summary>
    /// Subscriptions on one topic with the same queue name share the messages: each message goes
    /// to one member. Null: this subscription receives every message.
    /// </summary>
    public string? Queue { get; init; }

    /// <summary>Acknowledge each message when its handler returns (see <see cref="IEvent.AckAsync"/>).</summary>
    public bool AutoAck { get; init; } = true;

    /// <summary>
    /// At most this many messages wait for the handler; messages past it are dropped and counted
    /// in <see cref="TopicInfo.Dropped"/>, so a slow subscriber neither grows memory nor slows the publisher.
    /// </summary>
    public int MaxPending { get; init; } = DefaultMaxPending;

    /// <summary>
    /// Makes the pair (topic, <see cref="Queue"/>) one durable subscription: it lives in the broker
    /// from its first subscribe until <see cref="IBrokerAdmin.DeleteDurableAsync"/>, keeps every message
    /// published to its topic until a member acks it or it is dead-lettered, and redelivers what is not
    /// acked (at least once). Needs <see cref="Queue"/>.
    /// </summary>
    public bool Durable { get; init; }

    /// <summary>A durable message not acked this long after its handler received it is redelivered.</summary>
    public TimeSpan AckWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Deliveries of one durable message without an ack before it is dead-lettered (see <see cref="DeadLetter"/>).</summary>
    public int MaxDeliver { get; init; } = 10;

    /// <summary>Unacked durable messages out at once, all members of the durable subscription together.</summary>
    public int MaxAckPending { get; init; } = 1_000;

    /// <summary>
    /// Messages a durable subscription keeps; while it holds this many, publishes to its topic are
    /// refused with <see cref="BrokerErrorCode.BacklogFull"/>.
    /// </summary>
    public long MaxBacklog { get; init; } = 1_000_000;
}
