namespace OrleansBroker.Subscriptions;

/// <summary>
/// One message handed to one handler. A durable subscription's event carries its delivery tag and
/// settles once: the first ack or nak counts, later ones change nothing.
/// </summary>
internal sealed class BrokerEvent(string topic, Message message, IAckSink? acks = null, DeliveryTag? tag = null) : IEvent
{
    private int _settled;

    public string Topic { get; } = topic;

    public Message Message { get; } = message;

    public Exception? Error { get; internal set; }

    public int DeliveryCount => tag?.DeliveryCount ?? 1;

    /// <summary>Which durable delivery this is (null on a plain subscription), so the broker can tell when its handler received it.</summary>
    public DeliveryTag? Tag => tag;

    public Task AckAsync(CancellationToken cancellationToken = default)
    {
        // A plain subscription's message is never redelivered: there is nothing to confirm.
        return acks is null || tag is not { } t || !Settle() ? Task.CompletedTask : acks.AckAsync(t, cancellationToken).AsTask();
    }

    public Task NakAsync(TimeSpan? delay = null, CancellationToken cancellationToken = default)
    {
        Internal.Validation.ValidateNakDelay(delay);
        return acks is null || tag is not { } t || !Settle() ? Task.CompletedTask : acks.NakAsync(t, delay, cancellationToken).AsTask();
    }

    /// <summary>After the handler failed: a durable message neither acked nor nakked comes back after the backoff.</summary>
    internal async ValueTask NakUnsettledAsync()
    {
        if (acks is not null && tag is { } t && Settle())
        {
            try
            {
                await acks.NakAsync(t, delay: null, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Not settled is as good as nakked: the durable subscription redelivers after AckWait.
            }
        }
    }

    private bool Settle() => Interlocked.Exchange(ref _settled, 1) == 0;
}
