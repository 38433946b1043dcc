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
}
