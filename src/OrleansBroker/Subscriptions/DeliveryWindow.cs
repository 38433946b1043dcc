namespace OrleansBroker.Subscriptions;

/// <summary>
/// The newest batch number a subscription took from each of its recent senders (SubscriberGrain
/// activations), so that a batch sent again is recognised and handed to the handler once. A sender
/// numbers its batches 1, 2, ... and sends one at a time, so anything at or below the newest is a copy.
/// A new activation of the subscriber is a new sender; the few most recent are remembered.
/// </summary>
internal sealed class DeliveryWindow
{
    internal const int RememberedSenders = 8;

    private readonly Lock _gate = new();
    private readonly Dictionary<long, long> _newest = [];
    private readonly Queue<long> _senders = new();

    /// <summary>True the first time a batch is seen; false for a copy of one already taken.</summary>
    public bool TryTake(long sender, long sequence)
    {
        lock (_gate)
        {
            if (_newest.TryGetValue(sender, out var newest))
            {
                if (sequence <= newest)
                {
                    return false;
                }

                _newest[sender] = sequence;
                return true;
            }

            if (_senders.Count == RememberedSenders)
            {
                _newest.Remove(_senders.Dequeue());
            }

            _senders.Enqueue(sender);
            _newest[sender] = sequence;
            return true;
        }
    }
}
