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
}
