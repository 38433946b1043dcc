namespace OrleansBroker.Grains;

/// <summary>
/// One subscription, keyed by its id: holds the client's observer and a lease, buffers what the
/// topic hands it (up to MaxPending) and delivers it to the observer in order, batch by batch.
/// </summary>
[Alias("OrleansBroker.ISubscriberGrain")]
public interface ISubscriberGrain : IGrainWithStringKey
{
    /// <summary>Binds the subscription to its client's observer and joins the topic; returns the lease to renew within.</summary>
    [Alias("Attach")]
    Task<TimeSpan> Attach(SubscriptionSpec spec, IMessageObserver observer);

    /// <summary>Extends the lease; false when the subscription is unknown here (lost, expired or ended), so the client re-attaches it.</summary>
    [Alias("Renew")]
    Task<bool> Renew();

    /// <summary>
    /// Leaves the topic and forgets the subscription; idempotent. <paramref name="unbegun"/>: what the
    /// client was given and never began, handed back with what the grain still holds (a queue
    /// group's other members take it; otherwise it is counted as dropped).
    /// </summary>
    [Alias("Detach")]
    Task Detach(Immutable<Message[]> unbegun);

    /// <summary>
    /// A batch from the topic. Answered, but the topic never waits for the answer: it only watches for a
    /// rejection on the way (a silo that stops drops one-way calls to it silently) and then sends the batch again.
    /// A short response timeout: a hung subscriber silo must not keep the topic's batches referenced for long.
    /// </summary>
    [Alias("Deliver"), ResponseTimeout("00:00:05")]
    Task Deliver(DeliveryBatch batch);

    /// <summary>
    /// Messages of the durable subscription this grain is a member of, with their delivery tags. Never
    /// dropped: the durable grain bounds what is out (MaxAckPending); what this grain cannot take goes back to it.
    /// </summary>
    [OneWay, Alias("DeliverDurable")]
    Task DeliverDurable(DurableDelivery delivery);

    /// <summary>The durable subscription was deleted: the member ends, and tells its client so.</summary>
    [OneWay, Alias("EndDurable")]
    Task EndDurable();
}

/// <summary>
/// What a subscription is: its topic, its queue group and its bound; for a member of a durable
/// subscription, the settings its subscribe asked for. <see cref="Rejoin"/>: the client attaches again a
/// subscription it had (after a lost lease), which must not bring back a durable subscription deleted meanwhile.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansBroker.SubscriptionSpec")]
public sealed record SubscriptionSpec(
    [property: Id(0)] string Topic,
    [property: Id(1)] string? Queue,
    [property: Id(2)] int MaxPending,
    [property: Id(3)] DurableSettings? Durable = null,
    [property: Id(4)] bool Rejoin = false);

/// <summary>
/// A batch from a topic to one subscription. <see cref="Stream"/> names the run of sequence numbers
/// the topic started when it added the subscription (a later run has a larger number), so the
/// subscriber can put batches back in order. <see cref="Publisher"/> and <see cref="PublisherSequence"/>
/// say which numbered publish it came from (null and 0 for an unnumbered one), so that a publish sent
/// again to a topic that came back after a crash is not delivered to the subscription twice.
/// <see cref="SentBefore"/>: the messages of the stream's batches before this one, so that a batch lost on
/// the way is counted, exactly, when the subscriber gives up waiting for it.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansBroker.DeliveryBatch")]
public sealed record DeliveryBatch(
    [property: Id(0)] string Topic,
    [property: Id(1)] long Stream,
    [property: Id(2)] long Sequence,
    [property: Id(3)] Message[] Messages,
    [property: Id(4)] string? Publisher = null,
    [property: Id(5)] long PublisherSequence = 0,
    [property: Id(6)] long SentBefore = 0);
