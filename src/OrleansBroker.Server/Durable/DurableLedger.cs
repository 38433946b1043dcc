using OrleansBroker.Durable;
using OrleansBroker.Subscriptions;

namespace OrleansBroker.Server.Durable;

/// <summary>
/// The bookkeeping of one durable subscription, with no I/O (DurableGrain does that): the ack floor,
/// the messages held in memory between the floor and <see cref="Next"/> (ready to go, out to a member
/// waiting for an ack, waiting out a nak's delay, or settled out of order), and the counts of deliveries.
/// </summary>
/// <remarks>
/// Memory is a ring indexed by sequence number from the floor, one slot per message (emptied once settled),
/// so taking, acking and moving the floor cost O(1) each, with no allocation per message beyond its
/// <see cref="Entry"/>. Messages that were never sent are ready from <c>_unsent</c> up, in order; only those
/// that come back (nakked, expired, released) are kept in a sorted set, so they go out again lowest first.
/// </remarks>
internal sealed class DurableLedger(long floor, IReadOnlyDictionary<long, int>? deliveries = null)
{
    private readonly SortedSet<long> _returned = [];
    private readonly List<Entry> _delayed = [];
    private readonly Dictionary<long, int>? _restoredDeliveries = deliveries?.ToDictionary();
    private Entry?[] _slots = new Entry?[64];
    private int _head;
    private long _unsent = floor;
    private int _ready;
    private int _pending;
    private int _settledAbove;

    /// <summary>Every message below it is settled (acked or dead-lettered).</summary>
    public long Floor { get; private set; } = floor;

    /// <summary>The next sequence number to bring into memory: everything from <see cref="Floor"/> below it is here.</summary>
    public long Next { get; private set; } = floor;

    /// <summary>The log's last sequence number as far as this subscription knows.</summary>
    public long Last { get; set; } = floor - 1;

    /// <summary>Messages from the floor to <see cref="Next"/>: what memory holds (settled ones as an empty slot each).</summary>
    public long InMemory => Next - Floor;

    public int AckPending => _pending;

    public int Ready => _ready;

    /// <summary>Kept and not settled, those out for an ack included.</summary>
    public long Backlog => Math.Max(0, Last - Floor + 1 - _settledAbove);

    public long SettledAbove => _settledAbove;

    /// <summary>
    /// Takes messages that follow on from <see cref="Next"/> (from the topic or the log), up to
    /// <paramref name="window"/> in memory; a run missing from the log (trimmed: settled by every durable) is settled.
    /// </summary>
    public int Load(IReadOnlyList<LoggedMessage> messages, long window)
    {
        var taken = 0;
        foreach (var (sequence, message) in messages)
        {
            if (!TryLoad(sequence, message, window, ref taken))
            {
                break;
            }
        }

        AdvanceFloor();
        return taken;
    }

    /// <summary>As <see cref="Load(IReadOnlyList{LoggedMessage}, long)"/>, for a batch the topic appended from <paramref name="first"/> on.</summary>
    public int Load(long first, Message[] batch, long window)
    {
        var taken = 0;
        var i = 0;
        while (i < batch.Length && TryLoad(first + i, batch[i], window, ref taken))
        {
            i++;
        }

        AdvanceFloor();
        return taken;
    }

    /// <summary>False: memory is full.</summary>
    private bool TryLoad(long sequence, Message message, long window, ref int taken)
    {
        if (sequence < Next)
        {
            return true;
        }

        if (InMemory >= window)
        {
            return false;
        }

        if (InMemory == 0)
        {
            // Nothing held: a trimmed run is simply passed over.
            _restoredDeliveries?.Keys.Where(s => s < sequence).ToList().ForEach(s => _restoredDeliveries.Remove(s));
            Floor = Next = _unsent = sequence;
        }

        for (; Next < sequence; Next++)
        {
            Append(null);
            _settledAbove++;
        }

        var count = _restoredDeliveries?.GetValueOrDefault(sequence) ?? 0;
        Append(new Entry(sequence, message) { Deliveries = count });
        _ready++;
        Next = sequence + 1;
        Last = Math.Max(Last, sequence);
        taken++;
        return true;
    }

    /// <summary>Up to <paramref name="max"/> ready messages, lowest sequence first, taken out of the ready set.</summary>
    public List<Entry> TakeReady(int max)
    {
        var taken = new List<Entry>(Math.Min(max, _ready));
        while (taken.Count < max && _returned.Count > 0)
        {
            var sequence = _returned.Min;
            _returned.Remove(sequence);
            taken.Add(Take(At(sequence)!));
        }

        for (; taken.Count < max && _unsent < Next; _unsent++)
        {
            if (At(_unsent) is { } entry)
            {
                taken.Add(Take(entry));
            }
        }

        return taken;
    }

    /// <summary>The message goes out to <paramref name="member"/> until <paramref name="deadline"/>; returns its tag.</summary>
    public DeliveryTag Send(Entry entry, string member, DateTime deadline)
    {
        entry.Deliveries++;
        entry.Member = member;
        entry.Begun = false;
        entry.Due = deadline;
        entry.State = EntryState.Out;
        _pending++;
        return new DeliveryTag(entry.Sequence, entry.Deliveries);
    }

    /// <summary>The member's handler began the message: it is redelivered unless acked by <paramref name="deadline"/>.</summary>
    public void Begin(string member, DeliveryTag tag, DateTime deadline)
    {
        if (IsOut(member, tag) is { Begun: false } entry)
        {
            entry.Begun = true;
            entry.Due = deadline;
        }
    }

    /// <summary>True when the ack counts: the message is out to that member under that delivery.</summary>
    public bool Ack(string member, DeliveryTag tag)
    {
        if (IsOut(member, tag) is null)
        {
            return false;
        }

        _pending--;
        Settle(tag.Sequence);
        return true;
    }

    /// <summary>True when the nak counts; the message is ready again at once or after <paramref name="delay"/>.</summary>
    public bool Nak(string member, DeliveryTag tag, TimeSpan delay, DateTime now)
    {
        if (IsOut(member, tag) is not { } entry)
        {
            return false;
        }

        _pending--;
        entry.Member = null;
        if (delay <= TimeSpan.Zero)
        {
            MakeReady(entry);
        }
        else
        {
            entry.State = EntryState.Delayed;
            entry.Due = now + delay;
            _delayed.Add(entry);
        }

        return true;
    }

    /// <summary>Messages out past their ack deadline, and delayed ones now due, become ready; returns how many came back.</summary>
    public int Expire(DateTime now)
    {
        var expired = 0;
        if (_pending > 0)
        {
            for (var sequence = Floor; sequence < Next; sequence++)
            {
                if (At(sequence) is { State: EntryState.Out } entry && entry.Due <= now)
                {
                    _pending--;
                    MakeReady(entry);
                    expired++;
                }
            }
        }

        var due = _delayed.RemoveAll(e =>
        {
            if (e.Due > now)
            {
                return false;
            }

            MakeReady(e);
            return true;
        });
        return expired + due;
    }

    /// <summary>What <paramref name="member"/> has out (all, or only <paramref name="sequences"/>) is ready again at once.</summary>
    public int Release(string member, IReadOnlyCollection<long>? sequences = null)
    {
        var released = 0;
        if (sequences is null)
        {
            for (var sequence = Floor; sequence < Next && _pending > 0; sequence++)
            {
                released += ReleaseOne(member, sequence) ? 1 : 0;
            }
        }
        else
        {
            foreach (var sequence in sequences)
            {
                released += ReleaseOne(member, sequence) ? 1 : 0;
            }
        }

        return released;
    }

    /// <summary>What <paramref name="member"/> has out and its handler has not begun is ready again at once.</summary>
    public int ReleaseUnbegun(string member)
    {
        var released = 0;
        for (var sequence = Floor; sequence < Next && _pending > 0; sequence++)
        {
            if (At(sequence) is { Begun: false } entry && entry.Member == member)
            {
                released += ReleaseOne(member, sequence) ? 1 : 0;
            }
        }

        return released;
    }

    /// <summary>A message that was acked or dead-lettered: settled, and the floor moves over a contiguous settled run.</summary>
    public void Settle(long sequence)
    {
        if (sequence >= Floor && sequence < Next && At(sequence) is not null)
        {
            _slots[Slot(sequence)] = null;
            _settledAbove++;
            AdvanceFloor();
        }
    }

    /// <summary>Delivery counts of the messages in memory that went out at least once, to be stored.</summary>
    public Dictionary<long, int> Deliveries()
    {
        var counts = new Dictionary<long, int>();
        for (var sequence = Floor; sequence < Next; sequence++)
        {
            if (At(sequence) is { Deliveries: > 0 } entry)
            {
                counts[sequence] = entry.Deliveries;
            }
        }

        return counts;
    }

    private Entry Take(Entry entry)
    {
        _ready--;
        entry.State = EntryState.Taken;
        return entry;
    }

    private void MakeReady(Entry entry)
    {
        entry.Member = null;
        entry.State = EntryState.Ready;
        _returned.Add(entry.Sequence);
        _ready++;
    }

    private bool ReleaseOne(string member, long sequence)
    {
        if (sequence < Floor || sequence >= Next || At(sequence) is not { State: EntryState.Out } entry || entry.Member != member)
        {
            return false;
        }

        _pending--;
        MakeReady(entry);
        return true;
    }

    private Entry? IsOut(string member, DeliveryTag tag) =>
        tag.Sequence >= Floor && tag.Sequence < Next && At(tag.Sequence) is { State: EntryState.Out } entry
        && entry.Member == member && entry.Deliveries == tag.DeliveryCount ? entry : null;

    private Entry? At(long sequence) => _slots[Slot(sequence)];

    private int Slot(long sequence) => (int)((_head + (sequence - Floor)) & (_slots.Length - 1));

    /// <summary>Puts <paramref name="entry"/> (null: settled) in the slot of <see cref="Next"/>, doubling the ring when full.</summary>
    private void Append(Entry? entry)
    {
        var count = (int)InMemory;
        if (count == _slots.Length)
        {
            var grown = new Entry?[_slots.Length * 2];
            for (var i = 0; i < count; i++)
            {
                grown[i] = _slots[(_head + i) & (_slots.Length - 1)];
            }

            _slots = grown;
            _head = 0;
        }

        _slots[(_head + count) & (_slots.Length - 1)] = entry;
    }

    private void AdvanceFloor()
    {
        while (Floor < Next && At(Floor) is null)
        {
            _restoredDeliveries?.Remove(Floor);
            _settledAbove--;
            _head = (_head + 1) & (_slots.Length - 1);
            Floor++;
        }

        _unsent = Math.Max(_unsent, Floor);
    }

    internal enum EntryState
    {
        /// <summary>Waiting to go out.</summary>
        Ready,

        /// <summary>Taken to be sent or dead-lettered.</summary>
        Taken,

        /// <summary>Out to a member, waiting for its ack until <see cref="Entry.Due"/>.</summary>
        Out,

        /// <summary>Nakked with a delay: ready again at <see cref="Entry.Due"/>.</summary>
        Delayed,
    }

    /// <summary>One kept message: its deliveries so far, the member it is out to and until when (or when a delayed one is due).</summary>
    internal sealed class Entry(long sequence, Message message)
    {
        public long Sequence { get; } = sequence;

        public Message Message { get; } = message;

        public int Deliveries { get; set; }

        public EntryState State { get; set; }

        public string? Member { get; set; }

        /// <summary>The member's handler began this delivery: its deadline is AckWait from then.</summary>
        public bool Begun { get; set; }

        public DateTime Due { get; set; }
    }
}
