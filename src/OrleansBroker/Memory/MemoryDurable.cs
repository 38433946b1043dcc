using OrleansBroker.Subscriptions;

namespace OrleansBroker.Memory;

/// <summary>
/// One durable subscription (topic, queue) of a <see cref="MemoryBroker"/>. It keeps every message
/// published to its topic until a member acks it or it is dead-lettered, whether or not a member is
/// connected; hands each message to one member at a time, in publish order (redeliveries go back in
/// by their place), at most <see cref="SubscribeOptions.MaxAckPending"/> out at once; and takes back
/// what is nakked, fails, outlives its AckWait or belongs to a member that left.
/// Not thread-safe: the broker calls it under its lock, and so do its clock and its members' acks.
/// </summary>
internal sealed class MemoryDurable
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);

    private readonly Lock _gate;
    private readonly DurableClock _clock;
    private readonly Action<MemoryDurable, DurableEntry> _deadLetter;
    private readonly Dictionary<long, DurableEntry> _entries = [];
    private readonly PriorityQueue<DurableEntry, long> _ready = new();
    private readonly List<MemoryDurableMember> _members = [];
    private readonly List<DurableEntry> _expired = [];
    private readonly List<DurableEntry> _delayed = [];
    private long _lastSequence;
    private int _nextMember;
    private int _out;
    private long _delivered;
    private long _redelivered;
    private long _deadLettered;
    private bool _deleted;

    /// <param name="topic">Its topic.</param>
    /// <param name="queue">Its name on the topic.</param>
    /// <param name="options">The first subscribe's options (each later subscribe replaces them).</param>
    /// <param name="gate">The broker's lock, taken by the clock's callback.</param>
    /// <param name="time">Where AckWait, delays and backoffs are measured.</param>
    /// <param name="deadLetter">Publishes a message that reached MaxDeliver to the dead-letter topic (called under the lock).</param>
    public MemoryDurable(string topic, string queue, SubscribeOptions options, Lock gate, TimeProvider time,
        Action<MemoryDurable, DurableEntry> deadLetter)
    {
        Topic = topic;
        Queue = queue;
        Options = options;
        _gate = gate;
        _deadLetter = deadLetter;
        _clock = new DurableClock(time, OnTick);
    }

    public string Topic { get; }

    public string Queue { get; }

    /// <summary>AckWait, MaxDeliver, MaxAckPending and MaxBacklog as the latest subscribe set them.</summary>
    public SubscribeOptions Options { get; private set; }

    /// <summary>The broker's lock, which members take to settle their events.</summary>
    public Lock Gate => _gate;

    /// <summary>Deliveries handed to members, redeliveries included (the topic's Delivered counts them).</summary>
    public long Delivered => _delivered;

    public int Members => _members.Count;

    /// <summary>It holds MaxBacklog messages: its topic refuses publishes until some are acked.</summary>
    public bool IsFull => _entries.Count >= Options.MaxBacklog;

    // A dead-letter topic's own messages have no further topic to go to ("$DLQ.$DLQ..." is no
    // topic): they are kept and redelivered with the backoff instead, never dropped.
    private bool DeadLetters => !Topic.StartsWith('$');

    /// <summary>Keeps a message just published to the topic and hands it out if a member has room.</summary>
    public void Append(Message message)
    {
        var entry = new DurableEntry(++_lastSequence, message);
        _entries.Add(entry.Sequence, entry);
        _ready.Enqueue(entry, entry.Sequence);
        Pump();
    }

    /// <summary>A new member; its subscribe's options become the subscription's.</summary>
    public void Join(MemoryDurableMember member, SubscribeOptions options)
    {
        Options = options;
        _members.Add(member);
        Pump();
    }

    /// <summary>The member takes nothing more; what it holds stays with it until <see cref="HandOver"/>.</summary>
    public void Leave(MemoryDurableMember member) => _members.Remove(member);

    /// <summary>
    /// A member that left and whose handler has stopped gives back everything it held: the other
    /// members get it at once, not after its AckWait.
    /// </summary>
    public void HandOver(MemoryDurableMember member)
    {
        foreach (var entry in member.Held.ToList())
        {
            Release(entry, TimeSpan.Zero);
        }

        Pump();
    }

    /// <summary>
    /// The member's handler is about to begin this delivery: its AckWait starts now. False when the
    /// delivery no longer counts (acked elsewhere, taken back, deleted): the handler skips it.
    /// </summary>
    public bool Receive(MemoryDurableMember member, DeliveryTag tag)
    {
        if (Held(member, tag) is not { } entry)
        {
            return false;
        }

        if (!entry.Received)
        {
            entry.Received = true;
            _clock.StartDeadline(entry, Options.AckWait);
        }

        return true;
    }

    /// <summary>Forgets the message, unless this delivery was already taken back (a late ack changes nothing).</summary>
    public void Ack(MemoryDurableMember member, DeliveryTag tag)
    {
        if (Held(member, tag) is not { } entry)
        {
            return;
        }

        TakeFromHolder(entry);
        _entries.Remove(entry.Sequence);
        entry.State = DurableEntryState.Gone;
        Pump();
    }

    /// <summary>Redelivers after <paramref name="delay"/> (null: the backoff), unless this delivery was already taken back.</summary>
    public void Nak(MemoryDurableMember member, DeliveryTag tag, TimeSpan? delay)
    {
        if (Held(member, tag) is not { } entry)
        {
            return;
        }

        Release(entry, delay ?? Backoff(entry.Deliveries));
        Pump();
    }

    /// <summary>Drops everything it keeps and stops its clock; the broker ends its members.</summary>
    public void Delete()
    {
        _deleted = true;
        _clock.Dispose();
        foreach (var member in _members)
        {
            member.Held.Clear();
        }

        foreach (var entry in _entries.Values)
        {
            entry.Holder?.Held.Clear();
            entry.State = DurableEntryState.Gone;
        }

        _members.Clear();
        _entries.Clear();
        _ready.Clear();
        _out = 0;
    }

    public DurableInfo ToInfo() => new(Queue, _members.Count, _entries.Count, _out, _redelivered, _deadLettered);

    /// <summary>Deadlines passed: redelivered at once; delays ended: ready again.</summary>
    private void OnTick()
    {
        lock (_gate)
        {
            if (_deleted)
            {
                return;
            }

            _clock.TakeDue(_expired, _delayed);
            foreach (var entry in _expired)
            {
                Release(entry, TimeSpan.Zero);
            }

            foreach (var entry in _delayed)
            {
                MakeReady(entry);
            }

            _expired.Clear();
            _delayed.Clear();
            Pump();
        }
    }

    /// <summary>Hands ready messages, oldest first, to members with room while fewer than MaxAckPending are out.</summary>
    private void Pump()
    {
        while (_ready.TryPeek(out var entry, out _) && _out < Options.MaxAckPending && NextMemberWithRoom() is { } member)
        {
            _ready.Dequeue();
            if (DeadLetters && entry.Deliveries >= Options.MaxDeliver)
            {
                // MaxDeliver was lowered by a later subscribe while it waited.
                DeadLetter(entry);
                continue;
            }

            entry.Deliveries++;
            if (!member.Dispatcher.TryPost(entry.Message, new DeliveryTag(entry.Sequence, entry.Deliveries)))
            {
                // Only a closing dispatcher refuses, and a closing member has left already; stay safe all the same.
                entry.Deliveries--;
                _ready.Enqueue(entry, entry.Sequence);
                return;
            }

            entry.State = DurableEntryState.Out;
            entry.Holder = member;
            member.Held.Add(entry);
            _out++;
            _delivered++;
            if (entry.Deliveries > 1)
            {
                _redelivered++;
            }
        }
    }

    /// <summary>Round robin over the members holding fewer than their MaxPending.</summary>
    private MemoryDurableMember? NextMemberWithRoom()
    {
        for (var tried = 0; tried < _members.Count; tried++)
        {
            var member = _members[_nextMember++ % _members.Count];
            if (member.Held.Count < member.MaxPending)
            {
                return member;
            }
        }

        return null;
    }

    /// <summary>
    /// Takes a message back from its holder: dead-lettered when it has had MaxDeliver deliveries,
    /// else ready after <paramref name="delay"/>. A message the holder's handler never began was not
    /// delivered, so it does not count.
    /// </summary>
    private void Release(DurableEntry entry, TimeSpan delay)
    {
        TakeFromHolder(entry);
        if (!entry.Received)
        {
            entry.Deliveries--;
        }

        entry.Received = false;
        if (DeadLetters && entry.Deliveries >= Options.MaxDeliver)
        {
            DeadLetter(entry);
        }
        else if (delay > TimeSpan.Zero)
        {
            entry.State = DurableEntryState.Delayed;
            _clock.Delay(entry, delay);
        }
        else
        {
            MakeReady(entry);
        }
    }

    private void TakeFromHolder(DurableEntry entry)
    {
        entry.Holder!.Held.Remove(entry);
        entry.Holder = null;
        _out--;
        _clock.StopDeadline(entry);
    }

    private void MakeReady(DurableEntry entry)
    {
        entry.State = DurableEntryState.Ready;
        _ready.Enqueue(entry, entry.Sequence);
    }

    private void DeadLetter(DurableEntry entry)
    {
        _entries.Remove(entry.Sequence);
        entry.State = DurableEntryState.Gone;
        _deadLettered++;
        _deadLetter(this, entry);
    }

    /// <summary>The entry this delivery carries while <paramref name="member"/> still holds that very delivery; else null.</summary>
    private DurableEntry? Held(MemoryDurableMember member, DeliveryTag tag) =>
        _entries.TryGetValue(tag.Sequence, out var entry) && entry.State == DurableEntryState.Out
            && entry.Holder == member && entry.Deliveries == tag.DeliveryCount
            ? entry
            : null;

    /// <summary>1 s after the first delivery, doubling with each, at most AckWait.</summary>
    private TimeSpan Backoff(int deliveries)
    {
        var backoff = FirstBackoff * Math.Pow(2, Math.Clamp(deliveries - 1, 0, 20));
        return backoff < Options.AckWait ? backoff : Options.AckWait;
    }
}
