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
    /// 1 on the first delivery of this message, n on the nth (durable subscriptions redeliver;
    /// a plain subscription's messages are always 1).
    /// </summary>
    int DeliveryCount { get; }

    /// <summary>
    /// Acknowledges a durable subscription's message, so it is not redelivered; with
    /// <see cref="SubscribeOptions.AutoAck"/> the broker acks when the handler returns.
    /// An ack after the message was redelivered or handed over changes nothing.
    /// On a plain subscription it completes at once and changes nothing.
    /// </summary>
    Task AckAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Has a durable subscription's message redelivered after <paramref name="delay"/>
    /// (null: the backoff, 1 s doubling with each delivery up to <see cref="SubscribeOptions.AckWait"/>; zero: at once).
    /// On a plain subscription it completes at once and changes nothing.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The delay is negative.</exception>
    Task NakAsync(TimeSpan? delay = null, CancellationToken cancellationToken = default);
}

/// <summary>Handles one message of a subscription; the token is cancelled when the subscription ends.</summary>
public delegate Task MessageHandler(IEvent evt, CancellationToken cancellationToken);
