using OrleansBroker.Grains;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// Puts a subscription's batches back in the topic's order. The topic numbers the batches of each
/// subscription from 0 within a stream; a stream is named by a number that grows each time the
/// topic (re)starts the subscription's stream. Orleans may reorder one-way calls, above all the
/// first ones to a grain whose address is not cached yet, so a batch that arrives early is held
/// until the gap fills, a repeated one is dropped, and so is a batch of an older stream. A gap
/// that lasts longer than <see cref="GapTimeout"/> (or holds back <see cref="MaxHeld"/> batches, or
/// more than its byte budget), or that a new stream leaves behind, is given up on: its batch was
/// lost, with an activation that died, and delivery goes on with what waited behind it.
/// </summary>
internal sealed class SequenceGate(long maxHeldBytes = long.MaxValue)
{
    internal const int MaxHeld = 1024;
    internal static readonly TimeSpan GapTimeout = TimeSpan.FromSeconds(1);

    private readonly SortedDictionary<long, DeliveryBatch> _held = [];
    private long _next;
    private DateTime _gapSince;
    private long _discarded;

    /// <summary>The bytes of the batches held back for a gap: they count against the subscription's budget.</summary>
    public long HeldBytes { get; private set; }

    /// <summary>The newest stream seen; 0 before the first batch.</summary>
    public long Stream { get; private set; }

    /// <summary>Where the gate has got to, for a handover to the next activation.</summary>
    public StreamPosition Position => new(Stream, _next);

    /// <summary>Carries on from a position the previous activation handed over.</summary>
    public void Restore(StreamPosition position)
    {
        Stream = position.Stream;
        _next = position.Next;
        Clear();
    }

    /// <summary>
    /// Messages of batches discarded since last asked: of an older stream, or arriving after their
    /// gap was given up on. They are counted as dropped, never lost silently.
    /// </summary>
    public long TakeDiscarded()
    {
        var discarded = _discarded;
        _discarded = 0;
        return discarded;
    }

    /// <summary>Batches are waiting for a gap to fill; call <see cref="Flush"/> later to give up on it.</summary>
    public bool HasGap => _held.Count > 0;

    /// <summary>
    /// Adds to <paramref name="ready"/> the batches that can now be delivered, in order. Returns false
    /// when the batch belongs to an older stream than the gate follows (and was dropped).
    /// </summary>
    public bool Accept(DeliveryBatch batch, List<DeliveryBatch> ready, DateTime now)
    {
        if (batch.Stream < Stream)
        {
            _discarded += batch.Messages.Length;
            return false;
        }

        if (batch.Stream > Stream)
        {
            // The topic has moved on to a new stream: the gap in the old one will never fill. What was
            // held behind it came before the new stream, so it is handed over now, in order, not dropped.
            ready.AddRange(_held.Values);
            Clear();
            Stream = batch.Stream;
            _next = 0;
        }

        if (batch.Sequence == _next)
        {
            ready.Add(batch);
            _next++;
            Drain(ready, now);
        }
        else if (batch.Sequence > _next)
        {
            if (_held.Count == 0)
            {
                _gapSince = now;
            }

            if (_held.TryAdd(batch.Sequence, batch))
            {
                HeldBytes += MessageBytes.Of(batch.Messages);
            }

            Flush(ready, now);
        }
        else
        {
            // Behind the gate: its gap was given up on (or a repeat, which one-way calls never make).
            _discarded += batch.Messages.Length;
        }

        return true;
    }

    /// <summary>Gives up on every gap now (the activation is going), handing over all that waited, in order.</summary>
    public void FlushAll(List<DeliveryBatch> ready)
    {
        if (_held.Count > 0)
        {
            HeldBytes = 0;
            ready.AddRange(_held.Values);
            _next = _held.Keys.Last() + 1;
            _held.Clear();
        }
    }

    /// <summary>Gives up on a gap that has lasted too long, handing over what waited behind it.</summary>
    public void Flush(List<DeliveryBatch> ready, DateTime now)
    {
        if (_held.Count > 0 && (_held.Count > MaxHeld || HeldBytes > maxHeldBytes || now - _gapSince >= GapTimeout))
        {
            _next = _held.Keys.First();
            Drain(ready, now);
        }
    }

    private void Drain(List<DeliveryBatch> ready, DateTime now)
    {
        while (_held.Remove(_next, out var next))
        {
            HeldBytes -= MessageBytes.Of(next.Messages);
            ready.Add(next);
            _next++;
        }

        if (_held.Count > 0)
        {
            _gapSince = now;
        }
    }

    private void Clear()
    {
        _held.Clear();
        HeldBytes = 0;
    }
}
