namespace OrleansBroker.Grains;

/// <summary>
/// One topic, keyed by its name: holds its subscriptions and queue groups and fans each published
/// batch out with one call per subscription. Part of the wire contract between clients and silos.
/// </summary>
[Alias("OrleansBroker.ITopicGrain")]
public interface ITopicGrain : IGrainWithStringKey
{
    /// <summary>
    /// Accepts a batch of one publisher, in its order; returns once every live subscriber has it
    /// queued. The topic never waits inside this call, so a short timeout only cuts short the
    /// wait for a topic whose silo died (the publisher's next batches queue behind it).
    /// </summary>
    [Alias("Publish")]
    [ResponseTimeout("00:00:05")]
    Task Publish(Immutable<Message[]> messages);

    /// <summary>
    /// <see cref="Publish(Immutable{Message[]})"/> for a publisher that numbers its batches to this topic
    /// 1, 2, ... and sends one at a time, sending a batch again when a call failed or timed out. A batch
    /// numbered at or below the newest this topic took from <paramref name="publisher"/> is a copy (or was
    /// given up on): it completes without being delivered again.
    /// </summary>
    [Alias("PublishNumbered")]
    [ResponseTimeout("00:00:05")]
    Task Publish(string publisher, long sequence, Immutable<Message[]> messages);

    /// <summary>
    /// A numbered batch of a publisher that keeps several calls in flight to this topic: <paramref name="previous"/>
    /// is the number of the batch it sent here before this one (0: none, or start afresh). The topic takes the batch
    /// only after that one (<see cref="PublishOutcome.Taken"/>); otherwise it changes nothing and says why, and the
    /// publisher sends it again in order. A copy of a batch taken already is answered <see cref="PublishOutcome.Taken"/>.
    /// </summary>
    /// <remarks>
    /// Interleaved with the topic's other calls: a call that arrives ahead of its previous batch waits at the topic for
    /// it (Orleans may reorder calls on the way), and a durable topic stores other batches while one is being stored.
    /// </remarks>
    [Alias("PublishInOrder")]
    [AlwaysInterleave]
    [ResponseTimeout("00:00:05")]
    Task<PublishOutcome> Publish(string publisher, long sequence, long previous, Immutable<Message[]> messages);

    /// <summary>
    /// Adds (or re-adds) a subscription; idempotent. A stream started for it is numbered above
    /// <paramref name="minimumStream"/>, the newest the subscriber has seen. <paramref name="restartStream"/>:
    /// the subscriber lost its place in its stream (it came back after a move, or saw an older
    /// stream), so start a new one.
    /// </summary>
    [Alias("Subscribe")]
    Task Subscribe(string subscriptionId, string? queue, long minimumStream = 0, bool restartStream = false);

    /// <summary>Removes a subscription; idempotent.</summary>
    [Alias("Unsubscribe")]
    Task Unsubscribe(string subscriptionId);

    /// <summary>
    /// A leaving subscription hands back what it was given and never delivered: it is removed (as by
    /// <see cref="Unsubscribe"/>), the other members of its queue group take the messages, and what
    /// nobody can take is counted as dropped. At most one publish call's worth of messages per call.
    /// </summary>
    [Alias("HandBack")]
    Task HandBack(string subscriptionId, string? queue, Immutable<Message[]> messages);

    /// <summary>
    /// A queue-group member is full (its MaxPending messages or byte budget are waiting): it hands
    /// back what it could not take, the topic passes it over for a short while, and the group's other
    /// members take these messages; only what no member has room for is counted as dropped.
    /// </summary>
    [Alias("Overflow")]
    Task Overflow(string subscriptionId, Immutable<Message[]> messages);

    /// <summary>A subscription dropped this many messages (its MaxPending were waiting). One-way: counting never slows delivery.</summary>
    [OneWay, Alias("AddDropped")]
    Task AddDropped(long count);

    /// <summary>The topic's figures, or null when the topic has never been used.</summary>
    [Alias("GetInfo")]
    Task<TopicSnapshot?> GetInfo();
}

/// <summary>The figures of one topic as they cross the wire; <see cref="ToInfo"/> makes the public record.</summary>
[GenerateSerializer, Immutable, Alias("OrleansBroker.TopicSnapshot")]
public sealed class TopicSnapshot
{
    /// <summary>See <see cref="TopicInfo.Topic"/>.</summary>
    [Id(0)] public required string Topic { get; init; }

    /// <summary>See <see cref="TopicInfo.Subscribers"/>.</summary>
    [Id(1)] public int Subscribers { get; init; }

    /// <summary>See <see cref="TopicInfo.QueueGroups"/>.</summary>
    [Id(2)] public required Dictionary<string, int> QueueGroups { get; init; }

    /// <summary>See <see cref="TopicInfo.Published"/>.</summary>
    [Id(3)] public long Published { get; init; }

    /// <summary>See <see cref="TopicInfo.Delivered"/>.</summary>
    [Id(4)] public long Delivered { get; init; }

    /// <summary>See <see cref="TopicInfo.Dropped"/>.</summary>
    [Id(5)] public long Dropped { get; init; }

    /// <summary>See <see cref="TopicInfo.Host"/>.</summary>
    [Id(6)] public string? Host { get; init; }

    /// <summary>The queues of the topic's durable subscriptions, in order; their figures are their own grains'.</summary>
    [Id(7)] public string[] Durables { get; init; } = [];

    /// <summary>The public record of these figures, with the durable subscriptions' figures and members.</summary>
    public TopicInfo ToInfo(IReadOnlyList<DurableInfo>? durables = null) =>
        new(Topic, Subscribers + (durables?.Sum(d => d.Members) ?? 0), QueueGroups, Published, Delivered)
        {
            Dropped = Dropped,
            Host = Host,
            Durables = durables ?? [],
        };
}

/// <summary>What a topic did with a batch published in order (see <see cref="ITopicGrain.Publish(string, long, long, Immutable{Message[]})"/>).</summary>
[GenerateSerializer, Alias("OrleansBroker.PublishOutcome")]
public enum PublishOutcome
{
    /// <summary>Taken (or a copy of a batch taken already).</summary>
    Taken,

    /// <summary>Not taken: the batch before it has not arrived (overtaken on the way, or lost); send it again after that one.</summary>
    OutOfOrder,

    /// <summary>Not taken: this topic does not know the publisher (it came back after a crash); send it again with no previous batch.</summary>
    UnknownPublisher,

    /// <summary>
    /// Taken, and stored in the topic's durable log before this answer: the publisher keeps several calls in flight to
    /// such a topic, whose answers take a store round trip. (To a topic that answers <see cref="Taken"/> at once, one call at
    /// a time carries the most messages per call.)
    /// </summary>
    Stored,
}
