namespace OrleansBroker;

/// <summary>
/// Options of a broker (go-micro's broker.Options). A broker copies them when it is built and
/// validates the copy, so changing this instance afterwards changes nothing; the properties stay
/// settable for object initializers, <c>Action&lt;BrokerOptions&gt;</c> and configuration binding.
/// </summary>
public sealed record BrokerOptions
{
    /// <summary>The default of <see cref="MaxMessageBytes"/>: 1 MiB.</summary>
    public const int DefaultMaxMessageBytes = 1024 * 1024;

    /// <summary>Called with the failed event (its <see cref="IEvent.Error"/> set); null: the failure is logged.</summary>
    public MessageHandler? ErrorHandler { get; set; }

    /// <summary>The largest message accepted: body plus header keys and values, in UTF-8 bytes; at least 1.</summary>
    public int MaxMessageBytes { get; set; } = DefaultMaxMessageBytes;

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
