namespace OrleansBroker;

/// <summary>What a handler receives (go-micro's broker.Event).</summary>
public interface IEvent
{
    /// <summary>The topic the message was published to.</summary>
    string Topic { get; }

    /// <summary>The message as it was published.</summary>
    Message Message { get; }

    /// <summary>Set when the handler failed; <see cref="BrokerOptions.ErrorHandler"/> sees it.</summary>
    Exception? Error { get; }

    /// <summary>
    /// Acknowledges the message. Redelivery of unacknowledged messages is not built yet,
    /// so this completes at once whatever <see cref="SubscribeOptions.AutoAck"/> says.
    /// </summary>
    Task AckAsync(CancellationToken cancellationToken = default);
}

/// <summary>Handles one message of a subscription; the token is cancelled when the subscription ends.</summary>
public delegate Task MessageHandler(IEvent evt, CancellationToken cancellationToken);
