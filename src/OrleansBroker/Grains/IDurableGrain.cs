using OrleansBroker.Subscriptions;

namespace OrleansBroker.Grains;

/// <summary>
/// One durable subscription (topic, queue), keyed by <see cref="DurableKey.Of"/>: it outlives its members,
/// keeps an ack floor and the messages out for an ack, and redelivers or dead-letters what is not acked.
/// The members' clients settle deliveries here directly, in batches; the silo's own calls
/// (join, leave, deliver) are on a silo-side interface.
/// </summary>
[Alias("OrleansBroker.IDurableGrain")]
public interface IDurableGrain : IGrainWithStringKey
{
    /// <summary>
    /// What one member's handler began, acked and nakked, coalesced by its client. A message's AckWait
    /// runs from when its handler began it. Each counts only while the message is still out to that member
    /// under that delivery count: a late one (after a redelivery or a handover) changes nothing.
    /// </summary>
    [Alias("Settle")]
    Task Settle(string memberId, DeliveryTag[] begun, DeliveryTag[] acks, DurableNak[] naks);

    /// <summary>The subscription's figures, or null when it does not exist.</summary>
    [Alias("GetInfo")]
    Task<DurableSnapshot?> GetInfo();

    /// <summary>Ends the members, drops the backlog and forgets the subscription; false when there was none.</summary>
    [Alias("Delete")]
    Task<bool> Delete();
}

/// <summary>A nak: redeliver <see cref="Tag"/>'s message after <see cref="Delay"/> (null: the backoff).</summary>
[GenerateSerializer, Immutable, Alias("OrleansBroker.DurableNak")]
public readonly record struct DurableNak([property: Id(0)] DeliveryTag Tag, [property: Id(1)] TimeSpan? Delay);

/// <summary>A durable subscription's settings; each subscribe sets them (the latest wins).</summary>
[GenerateSerializer, Immutable, Alias("OrleansBroker.DurableSettings")]
public sealed record DurableSettings(
    [property: Id(0)] TimeSpan AckWait,
    [property: Id(1)] int MaxDeliver,
    [property: Id(2)] int MaxAckPending,
    [property: Id(3)] long MaxBacklog)
{
    /// <summary>The settings a subscribe with <paramref name="options"/> asks for.</summary>
    public static DurableSettings From(SubscribeOptions options) =>
        new(options.AckWait, options.MaxDeliver, options.MaxAckPending, options.MaxBacklog);

    /// <summary>The defaults of <see cref="SubscribeOptions"/> (a dead-letter subscription the broker made).</summary>
    public static DurableSettings Default { get; } = From(new SubscribeOptions());
}

/// <summary>
/// Messages of a durable subscription for one member, with their delivery tags (parallel arrays, in
/// sequence order). One-way from the durable grain to the member's SubscriberGrain, which Orleans may
/// reorder: <see cref="Number"/> counts the deliveries of durable grain activation <see cref="Sender"/>
/// to this member (1, 2, ...), so the member can put them back in order.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansBroker.DurableDelivery")]
public sealed record DurableDelivery(
    [property: Id(0)] string Topic,
    [property: Id(1)] string Queue,
    [property: Id(2)] DeliveryTag[] Tags,
    [property: Id(3)] Message[] Messages,
    [property: Id(4)] long Sender = 0,
    [property: Id(5)] long Number = 0);

/// <summary>A durable subscription's figures as they cross the wire; <see cref="ToInfo"/> makes the public record.</summary>
[GenerateSerializer, Immutable, Alias("OrleansBroker.DurableSnapshot")]
public sealed record DurableSnapshot(
    [property: Id(0)] string Queue,
    [property: Id(1)] int Members,
    [property: Id(2)] long Backlog,
    [property: Id(3)] long AckPending,
    [property: Id(4)] long Redelivered,
    [property: Id(5)] long DeadLettered)
{
    /// <summary>See <see cref="DurableInfo.Host"/>.</summary>
    [Id(6)] public string? Host { get; init; }

    /// <summary>The public record of these figures.</summary>
    public DurableInfo ToInfo() => new(Queue, Members, Backlog, AckPending, Redelivered, DeadLettered) { Host = Host };
}

/// <summary>The key of a durable subscription's grain: topic + "/" + queue (a queue holds no '/', a topic may).</summary>
public static class DurableKey
{
    /// <summary>The key of (topic, queue).</summary>
    public static string Of(string topic, string queue) => topic + "/" + queue;

    /// <summary>Splits a key at its last '/'; validates neither part.</summary>
    public static (string Topic, string Queue) Parse(string key)
    {
        var slash = key.LastIndexOf('/');
        return slash <= 0 || slash == key.Length - 1
            ? throw new BrokerException(BrokerErrorCode.InvalidQueue, "A durable subscription's key is topic/queue.")
            : (key[..slash], key[(slash + 1)..]);
    }
}
