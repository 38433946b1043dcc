namespace OrleansBroker.Subscriptions;

/// <summary>One message handed to one handler.</summary>
internal sealed class BrokerEvent(string topic, Message message) : IEvent
{
    public string Topic { get; } = topic;

    public Message Message { get; } = message;

    public Exception? Error { get; internal set; }

    // Redelivery of unacknowledged messages comes later; until then there is nothing to confirm.
    public Task AckAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
}
