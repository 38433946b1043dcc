namespace OrleansBroker;

/// <summary>
/// go-micro's broker.Broker: publish messages to topics and subscribe handlers to them.
/// Disposing the broker disconnects it.
/// </summary>
public interface IBroker : IAsyncDisposable
{
    /// <summary>The options this broker was built with: a copy, so changing it changes nothing.</summary>
    BrokerOptions Options { get; }

    /// <summary>Where this broker is connected; "" before the first <see cref="ConnectAsync"/>.</summary>
    string Address { get; }

    /// <summary>True between <see cref="ConnectAsync"/> and <see cref="DisconnectAsync"/>.</summary>
    bool IsConnected { get; }

    /// <summary>Connects; calling it again while connected does nothing.</summary>
    Task ConnectAsync(CancellationToken cancellationToken = default);

    /// <summary>Ends every subscription of this broker, then disconnects; idempotent.</summary>
    Task DisconnectAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Publishes <paramref name="message"/> to <paramref name="topic"/>. When the task completes
    /// the broker has accepted the message for every subscriber live at that moment.
    /// </summary>
    Task PublishAsync(string topic, Message message, CancellationToken cancellationToken = default);

    /// <summary>Subscribes <paramref name="handler"/> to <paramref name="topic"/>; it receives messages published after this completes.</summary>
    Task<ISubscriber> SubscribeAsync(string topic, MessageHandler handler,
        SubscribeOptions? options = null, CancellationToken cancellationToken = default);
}
