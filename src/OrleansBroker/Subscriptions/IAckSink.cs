namespace OrleansBroker.Subscriptions;

/// <summary>
/// Where a durable subscription's events send their acks and naks (the cluster coalesces them into
/// batched calls; the memory broker settles them in place). Plain subscriptions have none.
/// </summary>
internal interface IAckSink
{
    /// <summary>The message was processed: it is not delivered again.</summary>
    ValueTask AckAsync(DeliveryTag tag, CancellationToken cancellationToken);

    /// <summary>Deliver the message again after <paramref name="delay"/> (null: the backoff).</summary>
    ValueTask NakAsync(DeliveryTag tag, TimeSpan? delay, CancellationToken cancellationToken);
}
