namespace OrleansBroker.Subscriptions;

/// <summary>Which message of a durable subscription a delivery carries, and how many times it was delivered.</summary>
/// <param name="Sequence">The message's sequence number in its topic's durable log.</param>
/// <param name="DeliveryCount">1 on the first delivery, n on the nth.</param>
[GenerateSerializer, Immutable, Alias("OrleansBroker.DeliveryTag")]
public readonly record struct DeliveryTag([property: Id(0)] long Sequence, [property: Id(1)] int DeliveryCount);
