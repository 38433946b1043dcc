namespace OrleansBroker;

/// <summary>Who is subscribed where, and how much went through: the broker's PUBSUB NUMSUB.</summary>
public interface IBrokerAdmin
{
    /// <summary>Every topic in use, ordered by name, with its figures.</summary>
    Task<IReadOnlyList<TopicInfo>> ListTopicsAsync(CancellationToken cancellationToken = default);

    /// <summary>The topic's figures, or null for a topic the broker does not know.</summary>
    Task<TopicInfo?> GetTopicAsync(string topic, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes the durable subscription (topic, queue): ends its members and drops its backlog.
    /// False when there was none.
    /// </summary>
    Task<bool> DeleteDurableAsync(string topic, string queue, CancellationToken cancellationToken = default);
}

/// <param name="Topic">The topic's name.</param>
/// <param name="Subscribers">Every live subscription, queue members included.</param>
/// <param name="QueueGroups">Queue name to its live members.</param>
/// <param name="Published">Messages accepted on this topic.</param>
/// <param name="Delivered">Deliveries handed to subscribers: one per subscriber reached per message.</param>
public sealed record TopicInfo(
    string Topic,
    int Subscribers,
    IReadOnlyDictionary<string, int> QueueGroups,
    long Published,
    long Delivered)
{
    /// <summary>
    /// Messages that did not reach a subscriber the topic handed them to: dropped because it already
    /// held <see cref="SubscribeOptions.MaxPending"/> messages, lost when a delivery to its client failed, or
    /// arriving at the client too late to keep their order (after the messages behind them had gone on).
    /// </summary>
    public long Dropped { get; init; }

    /// <summary>Where the topic lives now: the address of the silo hosting its grain (null for an in-process broker).</summary>
    public string? Host { get; init; }

    /// <summary>The topic's durable subscriptions, ordered by queue; empty when none.</summary>
    public IReadOnlyList<DurableInfo> Durables { get; init; } = [];
}
