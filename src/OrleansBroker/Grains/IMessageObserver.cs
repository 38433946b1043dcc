namespace OrleansBroker.Grains;

/// <summary>The client's end of a subscription: the SubscriberGrain calls it with batches, one call at a time.</summary>
[Alias("OrleansBroker.IMessageObserver")]
public interface IMessageObserver : IGrainObserver
{
    /// <summary>
    /// Takes a batch; completes once the client has room for it (that is the subscriber's
    /// back-pressure). False: the subscription is ending on the client, which did not take the batch.
    /// </summary>
    [Alias("OnMessages")]
    Task<bool> OnMessages(Immutable<Message[]> messages);
}
