namespace OrleansBroker.Subscriptions;

/// <summary>What became of a delivery handed to <see cref="DeliveryWindow{T}.Take"/>.</summary>
internal enum Arrival
{
    /// <summary>Next in its sender's order: it is first in the ready list, with what waited behind it.</summary>
    Taken,

    /// <summary>Ahead of its turn: held until the deliveries before it arrive (or are given up on).</summary>
    Held,

    /// <summary>Taken (or held) already: sent again after a late answer, or a one-way copy of a delivery in flight.</summary>
    Copy,

    /// <summary>
    /// Of a gap given up on: what came after it went on without it, so it is not delivered. A counted sender's
    /// messages were counted when the gap was given up on (see <see cref="DeliveryWindow{T}.GivenUp"/>).
    /// </summary>
    Late,
}

/// <summary>
/// Puts each sender's deliveries back in its order and takes each once. A sender is a SubscriberGrain
/// activation's numbering (carried on by its next activation after a graceful move): it numbers its deliveries
/// 1, 2, ... The next number is taken; a later one is held until those before it arrive; one at or below the
/// newest taken is a copy. Deliveries overtake each other when they go by different routes: one-way calls while
/// a silo stops, or the first delivery of a moved grain's next activation and the old one's last calls.
/// A gap not filled within <see cref="GapTimeout"/>, or holding back more than its bound, is given up on:
/// what waited behind it goes on, and a delivery of the gap that arrives later is <see cref="Arrival.Late"/>.
/// A counted sender's deliveries each carry how many messages it sent before them (a plain subscription's do;
/// a durable member's do not): a gap given up on then held exactly the first held delivery's count less the count
/// after the newest delivery taken, for the owner to count even when the gap's deliveries never come (a one-way
/// call can be lost on the way).
/// The few senders used most recently are remembered. Not thread-safe: its owner locks.
/// </summary>
/// <param name="maxHeldMessages">Past this many messages held back, the oldest gap is given up on at once.</param>
internal sealed class DeliveryWindow<T>(int maxHeldMessages)
{
    internal const int RememberedSenders = 8;

    /// <summary>
    /// A delivery that went by another route arrives within milliseconds, or was lost on the way (with a gateway
    /// that stopped). The grain waits as long (its ResendAfter) for an answer before sending a delivery again,
    /// so a longer wait here would only hold back what is known to have arrived.
    /// </summary>
    internal static readonly TimeSpan GapTimeout = TimeSpan.FromSeconds(2);

    // Per sender, the gaps given up on, for telling a late delivery from a copy; gaps are rare, so a few suffice.
    private const int RememberedGaps = 16;

    private readonly Dictionary<long, Sender> _senders = [];
    private long _uses;
    private int _heldDeliveries;
    private long _heldMessages;

    /// <summary>Deliveries are held for a gap: call <see cref="Flush"/> by <see cref="GapDeadline"/>.</summary>
    public bool HasGap => _heldDeliveries > 0;

    /// <summary>When the oldest open gap is to be given up on; null when none is open.</summary>
    public DateTime? GapDeadline =>
        HasGap ? _senders.Values.Where(s => s.Held.Count > 0).Min(s => s.GapSince) + GapTimeout : null;

    /// <summary>
    /// The gaps given up on since last cleared, for the owner to report: sender, first and last number, and how
    /// many messages they held (null when the sender's deliveries carry no count).
    /// </summary>
    public List<(long Sender, long From, long To, long? Messages)> GivenUp { get; } = [];

    /// <summary>
    /// Takes, holds or refuses one delivery; adds to <paramref name="ready"/> what can go to the handler now, in
    /// order: when <see cref="Arrival.Taken"/>, this delivery first. <paramref name="sentBefore"/>: how many
    /// messages its sender sent before it, or null for a sender that does not count.
    /// </summary>
    public Arrival Take(long sender, long sequence, long? sentBefore, T delivery, int messages, DateTime now, List<T> ready)
    {
        var from = SenderOf(sender, now, out var forgotten);
        var arrival = TakeFrom(from, sequence, new Numbered(delivery, messages, sentBefore), now, ready);
        if (forgotten is not null)
        {
            // What a forgotten sender still held goes on now rather than be lost.
            ready.AddRange(forgotten);
        }

        return arrival;
    }

    private Arrival TakeFrom(Sender from, long sequence, Numbered delivery, DateTime now, List<T> ready)
    {
        if (sequence <= from.Newest)
        {
            return from.TakeSkipped(sequence) ? Arrival.Late : Arrival.Copy;
        }

        if (sequence == from.Newest + 1)
        {
            from.Took(sequence, delivery, ready);
            Drain(from, ready, now);
            return Arrival.Taken;
        }

        if (!from.Held.TryAdd(sequence, delivery))
        {
            return Arrival.Copy;
        }

        if (from.Held.Count == 1)
        {
            from.GapSince = now;
        }

        _heldDeliveries++;
        _heldMessages += delivery.Messages;
        while (_heldMessages > maxHeldMessages && from.Held.Count > 0)
        {
            GiveUp(from, ready, now);
        }

        return Arrival.Held;
    }

    /// <summary>True when the delivery was taken or is held already (it is a copy); false for a new or late one.</summary>
    public bool IsCopy(long sender, long sequence) =>
        _senders.TryGetValue(sender, out var from)
        && (from.Held.ContainsKey(sequence) || (sequence <= from.Newest && !from.IsSkipped(sequence)));

    /// <summary>Gives up on the gaps open for <see cref="GapTimeout"/>, adding what waited behind them to <paramref name="ready"/>.</summary>
    public void Flush(DateTime now, List<T> ready)
    {
        foreach (var from in _senders.Values)
        {
            while (from.Held.Count > 0 && now - from.GapSince >= GapTimeout)
            {
                GiveUp(from, ready, now);
            }
        }
    }

    /// <summary>Takes every held delivery, in each sender's order, and forgets them (the subscription is ending).</summary>
    public List<T> TakeHeld()
    {
        var held = new List<T>();
        foreach (var from in _senders.Values)
        {
            held.AddRange(from.Held.Values.Select(h => h.Delivery));
            from.Held.Clear();
        }

        _heldDeliveries = 0;
        _heldMessages = 0;
        return held;
    }

    private Sender SenderOf(long sender, DateTime now, out List<T>? forgotten)
    {
        forgotten = null;
        if (!_senders.TryGetValue(sender, out var from))
        {
            if (_senders.Count == RememberedSenders)
            {
                // Its gaps are given up on (and counted) now: nothing would be left to tell their deliveries apart.
                var oldest = _senders.MinBy(s => s.Value.LastUsed).Value;
                forgotten = [];
                while (oldest.Held.Count > 0)
                {
                    GiveUp(oldest, forgotten, now);
                }

                _senders.Remove(oldest.Id);
            }

            // A sender not seen before starts at 1: its first deliveries may be among those still on the way.
            _senders[sender] = from = new Sender(sender);
        }

        from.LastUsed = ++_uses;
        return from;
    }

    /// <summary>
    /// Skips the first gap of <paramref name="from"/>: the deliveries held behind it go on, up to the next gap.
    /// What the gap held is what the sender had sent before the first held delivery, less what it had sent up to
    /// the newest taken (never below none, should a count have gone wrong).
    /// </summary>
    private void GiveUp(Sender from, List<T> ready, DateTime now)
    {
        var (first, held) = from.Held.First();
        from.Skip(from.Newest + 1, first - 1);
        GivenUp.Add((from.Id, from.Newest + 1, first - 1, held.SentBefore - from.SentAfter is { } missing ? Math.Max(missing, 0) : null));
        from.Newest = first - 1;
        Drain(from, ready, now);
    }

    private void Drain(Sender from, List<T> ready, DateTime now)
    {
        while (from.Held.Remove(from.Newest + 1, out var next))
        {
            from.Took(from.Newest + 1, next, ready);
            _heldDeliveries--;
            _heldMessages -= next.Messages;
        }

        if (from.Held.Count > 0)
        {
            from.GapSince = now;
        }
    }

    /// <summary>A delivery, its number of messages, and how many its sender sent before it (null: not counted).</summary>
    private readonly record struct Numbered(T Delivery, int Messages, long? SentBefore);

    private sealed class Sender(long id)
    {
        private readonly List<(long From, long To)> _skipped = [];

        public long Id { get; } = id;

        public long Newest { get; set; }

        public long LastUsed { get; set; }

        public DateTime GapSince { get; set; }

        /// <summary>
        /// How many messages the sender had sent up to the newest delivery taken: that one's count and its own
        /// messages (each taken delivery sets it anew, so one count gone wrong does not stay wrong). A new sender
        /// has sent none before its first; null after a delivery without a count.
        /// </summary>
        public long? SentAfter { get; private set; } = 0;

        public SortedDictionary<long, Numbered> Held { get; } = [];

        public void Took(long sequence, Numbered delivery, List<T> ready)
        {
            ready.Add(delivery.Delivery);
            Newest = sequence;
            SentAfter = delivery.SentBefore + delivery.Messages;
        }

        public void Skip(long from, long to)
        {
            if (_skipped.Count == RememberedGaps)
            {
                _skipped.RemoveAt(0);
            }

            _skipped.Add((from, to));
        }

        public bool IsSkipped(long sequence) => _skipped.Exists(s => s.From <= sequence && sequence <= s.To);

        /// <summary>True once for each skipped number: a second copy of a late delivery is only a copy.</summary>
        public bool TakeSkipped(long sequence)
        {
            var i = _skipped.FindIndex(s => s.From <= sequence && sequence <= s.To);
            if (i < 0)
            {
                return false;
            }

            var (from, to) = _skipped[i];
            _skipped.RemoveAt(i);
            if (from < sequence)
            {
                _skipped.Insert(i, (from, sequence - 1));
            }

            if (sequence < to)
            {
                _skipped.Insert(i + (from < sequence ? 1 : 0), (sequence + 1, to));
            }

            return true;
        }
    }
}
