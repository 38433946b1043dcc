namespace OrleansBroker.Subscriptions;

/// <summary>One message handed to one handler.</summary>
internal sealed class BrokerEvent(string topic, Message message) : IEvent
{
    public string Topic { get; } = topic;

    public Message Message { get; } = message;

    public Exception? Error { get; internal set; }

    public int DeliveryCount => 1;

    // A plain subscription's message is never redelivered: there is nothing to confirm.
    public Task AckAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task NakAsync(TimeSpan? delay = null, CancellationToken cancellationToken = default)
    {
        Internal.Validation.ValidateNakDelay(delay);
        return Task.CompletedTask;
    }
}
