using OrleansBroker.Subscriptions;

namespace OrleansBroker.Grains;

/// <summary>The client's end of a subscription: the SubscriberGrain calls it with batches, one call at a time.</summary>
[Alias("OrleansBroker.IMessageObserver")]
public interface IMessageObserver : IGrainObserver
{
    /// <summary>
    /// Takes a batch; completes once the client has room for it (that is the subscriber's back-pressure).
    /// <paramref name="sender"/> names the numbering of the SubscriberGrain activation that sent the batch (its
    /// next activation carries it on after a graceful handover), and <paramref name="sequence"/> is the batch's
    /// number in it (1, 2, ...): the grain sends a batch again when its answer is late (an answer can be lost with
    /// a gateway that dies), and the client takes each number once, in order. A batch that arrives ahead of its
    /// turn is answered at once (true) and held until those before it arrive, for a few seconds at most.
    /// <paramref name="sentBefore"/> is how many messages the sender's deliveries numbered before this one held
    /// (a running count, carried on with the numbering), less those the grain counted as dropped itself: when
    /// the client gives up on deliveries that never came, it counts their messages as dropped from it.
    /// False: the subscription is ending on the client, which did not take the batch.
    /// </summary>
    [Alias("OnCountedMessages")]
    Task<bool> OnMessages(long sender, long sequence, long sentBefore, Immutable<Message[]> messages);

    /// <summary>
    /// <see cref="OnMessages"/> without an answer, for a SubscriberGrain activation that can no longer get
    /// one: the client's answers are routed through the grain directory, and it no longer names this activation.
    /// Orleans may lose such a call on the way (while a silo stops); the client then counts its messages when it
    /// gives up on the gap, from the next delivery's <c>sentBefore</c>.
    /// </summary>
    [OneWay, Alias("OnCountedMessagesOneWay")]
    Task OnMessagesWithoutAnswer(long sender, long sequence, long sentBefore, Immutable<Message[]> messages);

    /// <summary>
    /// <see cref="OnMessages"/> for a member of a durable subscription: each message with its delivery tag
    /// (<paramref name="tags"/>[i] is <paramref name="messages"/>[i]'s), which its ack or nak names. No running
    /// count: a durable message that never arrives stays unacked, and AckWait brings it back.
    /// </summary>
    [Alias("OnDurableMessages")]
    Task<bool> OnDurableMessages(long sender, long sequence, Immutable<Message[]> messages, DeliveryTag[] tags);

    /// <summary><see cref="OnDurableMessages"/> without an answer (see <see cref="OnMessagesWithoutAnswer"/>).</summary>
    [OneWay, Alias("OnDurableMessagesOneWay")]
    Task OnDurableMessagesWithoutAnswer(long sender, long sequence, Immutable<Message[]> messages, DeliveryTag[] tags);

    /// <summary>The subscription was ended by the broker (its durable subscription was deleted): the client stops it.</summary>
    [OneWay, Alias("OnEnded")]
    Task OnEnded();
}
