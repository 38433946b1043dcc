namespace OrleansBroker;

/// <summary>One subscription (go-micro's broker.Subscriber). Disposing it unsubscribes.</summary>
public interface ISubscriber : IAsyncDisposable
{
    /// <summary>The topic subscribed to.</summary>
    string Topic { get; }

    /// <summary>The options the subscription was made with.</summary>
    SubscribeOptions Options { get; }

    /// <summary>Ends the subscription: once this completes the handler is not called again.</summary>
    Task UnsubscribeAsync(CancellationToken cancellationToken = default);
}
