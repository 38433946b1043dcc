namespace OrleansBroker;

/// <summary>Options of a broker, fixed when it is built (go-micro's broker.Options).</summary>
public class BrokerOptions
{
    /// <summary>Called with the failed event (its <see cref="IEvent.Error"/> set); null: the failure is logged.</summary>
    public MessageHandler? ErrorHandler { get; set; }

    /// <summary>The largest message accepted: body plus header keys and values, in UTF-8 bytes.</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;
}
