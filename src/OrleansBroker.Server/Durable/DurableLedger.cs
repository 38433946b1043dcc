using OrleansBroker.Durable;
using OrleansBroker.Subscriptions;

namespace OrleansBroker.Server.Durable;

/// <summary>
/// The bookkeeping of one durable subscription, with no I/O (DurableGrain does that): the ack floor,
/// the messages held in memory between the floor and <see cref="Next"/> (ready to go, out to a member
/// waiting for an ack, waiting out a nak's delay, or settled out of order), and the counts of deliveries.
/// </summary>
internal sealed class DurableLedger(long floor, IReadOnlyDictionary<long, int>? deliveries = null)
{
    private readonly SortedDictionary<long, Entry> _ready = [];
    private readonly Dictionary<long, Entry> _pending = [];
    private readonly List<Entry> _delayed = [];
    private readonly HashSet<long> _settled = [];
    private readonly Dictionary<long, int>? _restoredDeliveries = deliveries?.ToDictionary();

    /// <summary>Every message below it is settled (acked or dead-lettered).</summary>
    public long Floor { get; private set; } = floor;

    /// <summary>The next sequence number to bring into memory: everything from <see cref="Floor"/> below it is here.</summary>
    public long Next { get; private set; } = floor;

    /// <summary>The log's last sequence number as far as this subscription knows.</summary>
    public long Last { get; set; } = floor - 1;

    /// <summary>Messages from the floor to <see cref="Next"/>: what memory holds (settled ones as a number each).</summary>
    public long InMemory => Next - Floor;

    public int AckPending => _pending.Count;

    public int Ready => _ready.Count;

    /// <summary>Kept and not settled, those out for an ack included.</summary>
    public long Backlog => Math.Max(0, Last - Floor + 1 - _settled.Count);

    public long SettledAbove => _settled.Count;

    /// <summary>
    /// Takes messages that follow on from <see cref="Next"/> (from the topic or the log), up to
    /// <paramref name="window"/> in memory; a run missing from the log (trimmed: settled by every durable) is settled.
    /// </summary>
    public int Load(IReadOnlyList<LoggedMessage> messages, long window)
    {
        var taken = 0;
        foreach (var (sequence, message) in messages)
        {
            if (sequence < Next)
            {
                continue;
            }

            if (InMemory >= window)
            {
                break;
            }

            for (; Next < sequence; Next++)
            {
                _settled.Add(Next);
            }

            var count = _restoredDeliveries?.GetValueOrDefault(sequence) ?? 0;
            _ready[sequence] = new Entry(sequence, message) { Deliveries = count };
            Next = sequence + 1;
            Last = Math.Max(Last, sequence);
            taken++;
        }

        AdvanceFloor();
        return taken;
    }

    /// <summary>Up to <paramref name="max"/> ready messages, lowest sequence first, taken out of the ready set.</summary>
    public List<Entry> TakeReady(int max)
    {
        var taken = new List<Entry>(Math.Min(max, _ready.Count));
        foreach (var entry in _ready.Values)
        {
            if (taken.Count == max)
            {
                break;
            }

            taken.Add(entry);
        }

        foreach (var entry in taken)
        {
            _ready.Remove(entry.Sequence);
        }

        return taken;
    }

    /// <summary>Puts taken messages back as ready (no member to take them, or dead-lettering failed).</summary>
    public void Return(IEnumerable<Entry> entries)
    {
        foreach (var entry in entries)
        {
            entry.Member = null;
            _ready[entry.Sequence] = entry;
        }
    }

    /// <summary>The message goes out to <paramref name="member"/> until <paramref name="deadline"/>; returns its tag.</summary>
    public DeliveryTag Send(Entry entry, string member, DateTime deadline)
    {
        entry.Deliveries++;
        entry.Member = member;
        entry.Begun = false;
        entry.Due = deadline;
        _pending[entry.Sequence] = entry;
        return new DeliveryTag(entry.Sequence, entry.Deliveries);
    }

    /// <summary>The member's handler began the message: it is redelivered unless acked by <paramref name="deadline"/>.</summary>
    public void Begin(string member, DeliveryTag tag, DateTime deadline)
    {
        if (IsOut(member, tag, out var entry) && !entry.Begun)
        {
            entry.Begun = true;
            entry.Due = deadline;
        }
    }

    /// <summary>True when the ack counts: the message is out to that member under that delivery.</summary>
    public bool Ack(string member, DeliveryTag tag)
    {
        if (!IsOut(member, tag, out _))
        {
            return false;
        }

        _pending.Remove(tag.Sequence);
        Settle(tag.Sequence);
        return true;
    }

    /// <summary>True when the nak counts; the message is ready again at once or after <paramref name="delay"/>.</summary>
    public bool Nak(string member, DeliveryTag tag, TimeSpan delay, DateTime now)
    {
        if (!IsOut(member, tag, out var entry))
        {
            return false;
        }

        _pending.Remove(tag.Sequence);
        entry.Member = null;
        if (delay <= TimeSpan.Zero)
        {
            _ready[entry.Sequence] = entry;
        }
        else
        {
            entry.Due = now + delay;
            _delayed.Add(entry);
        }

        return true;
    }

    /// <summary>Messages out past their ack deadline, and delayed ones now due, become ready; returns how many came back.</summary>
    public int Expire(DateTime now)
    {
        var expired = _pending.Values.Where(e => e.Due <= now).ToList();
        foreach (var entry in expired)
        {
            _pending.Remove(entry.Sequence);
            entry.Member = null;
            _ready[entry.Sequence] = entry;
        }

        var due = _delayed.RemoveAll(e =>
        {
            if (e.Due > now)
            {
                return false;
            }

            _ready[e.Sequence] = e;
            return true;
        });
        return expired.Count + due;
    }

    /// <summary>What <paramref name="member"/> has out (all, or only <paramref name="sequences"/>) is ready again at once.</summary>
    public int Release(string member, IReadOnlyCollection<long>? sequences = null)
    {
        var released = (sequences is null
            ? _pending.Values.Where(e => e.Member == member)
            : sequences.Select(s => _pending.GetValueOrDefault(s)).OfType<Entry>().Where(e => e.Member == member)).ToList();
        foreach (var entry in released)
        {
            _pending.Remove(entry.Sequence);
            entry.Member = null;
            _ready[entry.Sequence] = entry;
        }

        return released.Count;
    }

    /// <summary>What <paramref name="member"/> has out and its handler has not begun is ready again at once.</summary>
    public int ReleaseUnbegun(string member) =>
        Release(member, _pending.Values.Where(e => e.Member == member && !e.Begun).Select(e => e.Sequence).ToList());

    /// <summary>A message that was dead-lettered: settled, as an ack settles it.</summary>
    public void Settle(long sequence)
    {
        if (sequence >= Floor)
        {
            _settled.Add(sequence);
            AdvanceFloor();
        }
    }

    /// <summary>Delivery counts of the messages in memory that went out at least once, to be stored.</summary>
    public Dictionary<long, int> Deliveries() =>
        _ready.Values.Concat(_pending.Values).Concat(_delayed).Where(e => e.Deliveries > 0).ToDictionary(e => e.Sequence, e => e.Deliveries);

    private bool IsOut(string member, DeliveryTag tag, out Entry entry) =>
        _pending.TryGetValue(tag.Sequence, out entry!) && entry.Member == member && entry.Deliveries == tag.DeliveryCount;

    private void AdvanceFloor()
    {
        while (Floor < Next && _settled.Remove(Floor))
        {
            _restoredDeliveries?.Remove(Floor);
            Floor++;
        }
    }

    /// <summary>One kept message: its deliveries so far, the member it is out to and until when (or when a delayed one is due).</summary>
    internal sealed class Entry(long sequence, Message message)
    {
        public long Sequence { get; } = sequence;

        public Message Message { get; } = message;

        public int Deliveries { get; set; }

        public string? Member { get; set; }

        /// <summary>The member's handler began this delivery: its deadline is AckWait from then.</summary>
        public bool Begun { get; set; }

        public DateTime Due { get; set; }
    }
}
