using OrleansBroker.Grains;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// Puts a subscription's batches back in the topic's order. The topic numbers the batches of each
/// subscription from 0 within a stream, and starts a new stream each time it adds the subscription
/// (or the subscription's grain comes back after a move). Orleans may reorder one-way calls, above
/// all the first ones to a grain whose address is not cached yet, so a batch that arrives early is
/// held until the gap fills, a repeated one is dropped, and batches of a stream already left behind
/// are dropped too.
/// </summary>
internal sealed class SequenceGate
{
    // A gap that outlasts this many held batches is given up on (its batch is lost), so a lost
    // one-way call can never stop delivery.
    internal const int MaxHeld = 1024;
    private const int RetiredStreamsKept = 16;

    private readonly SortedDictionary<long, DeliveryBatch> _held = [];
    private readonly Queue<Guid> _retired = new();
    private Guid _stream;
    private long _next;

    /// <summary>Adds to <paramref name="ready"/> the batches that can now be delivered, in order.</summary>
    public void Accept(DeliveryBatch batch, List<DeliveryBatch> ready)
    {
        if (batch.Stream != _stream)
        {
            if (_retired.Contains(batch.Stream))
            {
                return;
            }

            Retire(_stream);
            _stream = batch.Stream;
            _next = 0;
            _held.Clear();
        }

        if (batch.Sequence < _next)
        {
            return;
        }

        if (batch.Sequence > _next)
        {
            _held[batch.Sequence] = batch;
            if (_held.Count <= MaxHeld)
            {
                return;
            }

            _next = _held.Keys.First();
        }
        else
        {
            ready.Add(batch);
            _next++;
        }

        while (_held.Remove(_next, out var next))
        {
            ready.Add(next);
            _next++;
        }
    }

    private void Retire(Guid stream)
    {
        if (stream == Guid.Empty)
        {
            return;
        }

        _retired.Enqueue(stream);
        if (_retired.Count > RetiredStreamsKept)
        {
            _retired.Dequeue();
        }
    }
}
