using OrleansBroker.Grains;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// Puts a subscription's batches back in the topic's order. The topic numbers the batches of each
/// subscription from 0 within a stream; a stream is named by a number that grows each time the
/// topic (re)starts the subscription's stream. Orleans may reorder calls, above all the first ones
/// to a grain whose address is not cached yet, so a batch that arrives early is held until the gap
/// fills, a repeated one is dropped, and so is a batch of an older stream. A gap that lasts longer
/// than <see cref="GapTimeout"/> (or holds back <see cref="MaxHeld"/> batches, or more than its byte
/// budget), or that a new stream leaves behind, is given up on: its batch was lost, with an activation
/// that died, and delivery goes on with what waited behind it. Each batch carries the messages of its
/// stream before it, so a batch given up on is counted exactly (<see cref="TakeLost"/>).
/// </summary>
internal sealed class SequenceGate(long maxHeldBytes = long.MaxValue)
{
    internal const int MaxHeld = 1024;
    internal static readonly TimeSpan GapTimeout = TimeSpan.FromSeconds(1);

    private readonly SortedDictionary<long, DeliveryBatch> _held = [];
    private long _next;
    private DateTime _gapSince;
    private long _discarded;
    private long _lost;

    // The messages of the stream's batches before _next. Known from a stream's start, from a handover, or else
    // from the first batch released (a fresh activation that joins a stream in the middle: its predecessor crashed).
    private long _sentBefore;
    private bool _countKnown;

    // A batch from this sequence on that arrives behind the gate was counted with the gap it left (or is a copy).
    private long _countedFrom;

    /// <summary>The bytes of the batches held back for a gap: they count against the subscription's budget.</summary>
    public long HeldBytes { get; private set; }

    /// <summary>The newest stream seen; 0 before the first batch.</summary>
    public long Stream { get; private set; }

    /// <summary>Where the gate has got to, for a handover to the next activation.</summary>
    public StreamPosition Position => new(Stream, _next, _sentBefore, _countedFrom);

    /// <summary>Carries on from a position the previous activation handed over.</summary>
    public void Restore(StreamPosition position)
    {
        Stream = position.Stream;
        _next = position.Next;
        _sentBefore = position.SentBefore;
        _countKnown = position.Next == 0 || position.SentBefore > 0;
        _countedFrom = position.CountedFrom;
        Clear();
    }

    /// <summary>
    /// Messages of batches discarded since last asked: of an older stream, or arriving after a gap that
    /// could not be counted was given up on. They are counted as dropped, never lost silently.
    /// </summary>
    public long TakeDiscarded()
    {
        var discarded = _discarded;
        _discarded = 0;
        return discarded;
    }

    /// <summary>Messages of the batches given up on since last asked: sent by the topic, never arrived in time.</summary>
    public long TakeLost()
    {
        var lost = _lost;
        _lost = 0;
        return lost;
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
            FlushAll(ready);

            // A topic starts a stream at 0; only a gate that followed no stream yet can join one in the middle.
            _countKnown = Stream != 0 || batch.Sequence == 0;
            Stream = batch.Stream;
            _next = 0;
            _sentBefore = 0;
            _countedFrom = 0;
        }

        if (batch.Sequence == _next)
        {
            Release(batch, ready);
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
        else if (!_countKnown || batch.Sequence < _countedFrom)
        {
            // Behind the gate, from a gap given up on before the count was known: counted now.
            _discarded += batch.Messages.Length;
        }

        return true;
    }

    /// <summary>Gives up on every gap now (the activation is going), handing over all that waited, in order.</summary>
    public void FlushAll(List<DeliveryBatch> ready)
    {
        if (_held.Count > 0)
        {
            foreach (var held in _held.Values)
            {
                Release(held, ready);
            }

            _next = _held.Keys.Last() + 1;
            Clear();
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
            Release(next, ready);
            _next++;
        }

        if (_held.Count > 0)
        {
            _gapSince = now;
        }
    }

    /// <summary>Hands a batch on in order; the messages its running count says were sent before it and never came are lost.</summary>
    private void Release(DeliveryBatch batch, List<DeliveryBatch> ready)
    {
        if (!_countKnown)
        {
            _countKnown = true;
            _countedFrom = batch.Sequence;
        }
        else if (batch.SentBefore > _sentBefore)
        {
            _lost += batch.SentBefore - _sentBefore;
        }

        _sentBefore = batch.SentBefore + batch.Messages.Length;
        ready.Add(batch);
    }

    private void Clear()
    {
        _held.Clear();
        HeldBytes = 0;
    }
}
