namespace OrleansBroker.Memory;

/// <summary>
/// One topic of a <see cref="MemoryBroker"/>: its broadcast subscribers, its queue groups, its
/// durable subscriptions and its counters. Not thread-safe: the broker calls it under its lock.
/// </summary>
internal sealed class MemoryTopic(string name)
{
    private readonly List<MemorySubscription> _broadcast = [];
    private readonly Dictionary<string, QueueGroup> _groups = new(StringComparer.Ordinal);
    private long _published;
    private long _delivered;
    private long _dropped;

    // Null while the topic has no durable subscription, so the plain path pays one null check;
    // sorted by queue, as TopicInfo.Durables lists them.
    private SortedDictionary<string, MemoryDurable>? _durables;

    // Deliveries of durable subscriptions since deleted, so Delivered never goes back.
    private long _durableDelivered;

    public string Name { get; } = name;

    /// <summary>When the topic was last published to, subscribed to or left.</summary>
    public DateTimeOffset LastUsed { get; set; }

    public int Subscribers => _broadcast.Count + _groups.Values.Sum(g => g.Members.Count) + (_durables?.Values.Sum(d => d.Members) ?? 0);

    /// <summary>A topic with a durable subscription is never forgotten: it keeps messages for it.</summary>
    public bool HasDurables => _durables is not null;

    public MemoryDurable? FindDurable(string queue) => _durables?.GetValueOrDefault(queue);

    public MemoryDurable AddDurable(MemoryDurable durable)
    {
        (_durables ??= new SortedDictionary<string, MemoryDurable>(StringComparer.Ordinal)).Add(durable.Queue, durable);
        return durable;
    }

    /// <summary>Takes the durable subscription off the topic; the caller deletes it.</summary>
    public MemoryDurable? RemoveDurable(string queue)
    {
        if (_durables is null || !_durables.Remove(queue, out var durable))
        {
            return null;
        }

        _durableDelivered += durable.Delivered;
        if (_durables.Count == 0)
        {
            _durables = null;
        }

        return durable;
    }

    public void Add(MemorySubscription subscription)
    {
        if (subscription.Options.Queue is { } queue)
        {
            if (!_groups.TryGetValue(queue, out var group))
            {
                _groups[queue] = group = new QueueGroup();
            }

            group.Members.Add(subscription);
        }
        else
        {
            _broadcast.Add(subscription);
        }
    }

    public void Remove(MemorySubscription subscription)
    {
        if (subscription.Options.Queue is not { } queue)
        {
            _broadcast.Remove(subscription);
        }
        else if (_groups.TryGetValue(queue, out var group))
        {
            group.Members.Remove(subscription);
            if (group.Members.Count == 0)
            {
                _groups.Remove(queue);
            }
        }
    }

    /// <summary>
    /// Hands the message to every broadcast subscriber and to one member of each queue group, and
    /// keeps it for each durable subscription; refused whole when a durable one is full.
    /// </summary>
    /// <param name="message">The message.</param>
    /// <param name="refuseWhenFull">
    /// False for a dead letter: it was already kept (and counted) by the subscription it left, and
    /// is never dropped, so the dead-letter topic takes it whatever its backlog.
    /// </param>
    /// <exception cref="BrokerException">BacklogFull: nothing was accepted.</exception>
    public void Publish(Message message, bool refuseWhenFull = true)
    {
        if (_durables is not null && refuseWhenFull)
        {
            ThrowIfAnyDurableIsFull();
        }

        _published++;
        foreach (var subscription in _broadcast)
        {
            Count(subscription.Dispatcher.TryPost(message));
        }

        foreach (var group in _groups.Values)
        {
            Count(group.Post(message));
        }

        if (_durables is not null)
        {
            foreach (var durable in _durables.Values)
            {
                durable.Append(message);
            }
        }
    }

    /// <summary>
    /// Messages a leaving subscription was handed and never began: no longer its deliveries. A
    /// queue group's remaining members take them; returns how many nobody could take (dropped).
    /// </summary>
    public int HandBack(string? queue, Message[] messages)
    {
        _delivered -= messages.Length;
        var group = queue is null ? null : _groups.GetValueOrDefault(queue);
        var dropped = 0;
        foreach (var message in messages)
        {
            var taken = group?.Post(message) ?? false;
            Count(taken);
            dropped += taken ? 0 : 1;
        }

        return dropped;
    }

    public TopicInfo ToInfo() => new(
        Name,
        Subscribers,
        _groups.ToDictionary(g => g.Key, g => g.Value.Members.Count, StringComparer.Ordinal),
        _published,
        _delivered + _durableDelivered + (_durables?.Values.Sum(d => d.Delivered) ?? 0))
    {
        Dropped = _dropped,
        Durables = _durables is null ? [] : _durables.Values.Select(d => d.ToInfo()).ToList(),
    };

    private void ThrowIfAnyDurableIsFull()
    {
        foreach (var durable in _durables!.Values)
        {
            if (durable.IsFull)
            {
                throw new BrokerException(BrokerErrorCode.BacklogFull,
                    $"Topic '{Name}': durable subscription '{durable.Queue}' holds {durable.Options.MaxBacklog} messages (its MaxBacklog); nothing was published.");
            }
        }
    }

    private void Count(bool delivered)
    {
        if (delivered)
        {
            _delivered++;
        }
        else
        {
            _dropped++;
        }
    }

    private sealed class QueueGroup
    {
        private int _next;

        public List<MemorySubscription> Members { get; } = [];

        /// <summary>Round robin; a member whose queue is full is passed over for the next one.</summary>
        public bool Post(Message message)
        {
            for (var tried = 0; tried < Members.Count; tried++)
            {
                var member = Members[_next++ % Members.Count];
                if (member.Dispatcher.TryPost(message))
                {
                    return true;
                }
            }

            return false;
        }
    }
}
