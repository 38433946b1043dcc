namespace OrleansBroker.Memory;

/// <summary>
/// One topic of a <see cref="MemoryBroker"/>: its broadcast subscribers, its queue groups and its
/// counters. Not thread-safe: the broker calls it under its lock.
/// </summary>
internal sealed class MemoryTopic(string name)
{
    private readonly List<MemorySubscription> _broadcast = [];
    private readonly Dictionary<string, QueueGroup> _groups = new(StringComparer.Ordinal);
    private long _published;
    private long _delivered;
    private long _dropped;

    public string Name { get; } = name;

    /// <summary>When the topic was last published to, subscribed to or left.</summary>
    public DateTimeOffset LastUsed { get; set; }

    public int Subscribers => _broadcast.Count + _groups.Values.Sum(g => g.Members.Count);

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

    /// <summary>Hands the message to every broadcast subscriber and to one member of each queue group.</summary>
    public void Publish(Message message)
    {
        _published++;
        foreach (var subscription in _broadcast)
        {
            Count(subscription.Dispatcher.TryPost(message));
        }

        foreach (var group in _groups.Values)
        {
            Count(group.Post(message));
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
        _delivered)
    {
        Dropped = _dropped,
    };

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
