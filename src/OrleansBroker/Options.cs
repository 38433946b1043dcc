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

/// <summary>Options of a broker, fixed when it is built (go-micro's broker.Options).</summary>
public class BrokerOptions
{
    /// <summary>Called with the failed event (its <see cref="IEvent.Error"/> set); null: the failure is logged.</summary>
    public MessageHandler? ErrorHandler { get; set; }

    /// <summary>The largest message accepted: body plus header keys and values, in UTF-8 bytes.</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>The default of <see cref="PublishTimeout"/>.</summary>
    public static readonly TimeSpan DefaultPublishTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a <c>PublishAsync</c> may take before it fails with <see cref="BrokerErrorCode.Unavailable"/>.
    /// Until then a message the cluster could not take (the silo holding its topic died or is shutting down,
    /// a gateway was lost) is sent again, in order and without being delivered twice, so a failure the cluster
    /// heals from within this time delays publishes rather than refusing them. <see cref="Timeout.InfiniteTimeSpan"/>:
    /// no deadline but the caller's cancellation token. Used by <see cref="ClusterBroker"/>; a
    /// <see cref="MemoryBroker"/> never waits.
    /// </summary>
    public TimeSpan PublishTimeout { get; set; } = DefaultPublishTimeout;
}
