using Microsoft.Extensions.Logging;
using OrleansBroker.Grains;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// One topic. Fans each published batch out with one one-way call per broadcast subscription and
/// one per queue-group member it picks, numbering each subscription's batches so the subscriber
/// can restore their order. It never awaits a subscriber, so none can stall the topic.
/// </summary>
[GrainType(BrokerGrainTypes.Topic)]
internal sealed partial class TopicGrain(
    [PersistentState("topic", BrokerSiloOptions.StorageName)] IPersistentState<TopicState> state,
    ILogger<TopicGrain> logger) : Grain, ITopicGrain
{
    private readonly List<Target> _broadcast = [];
    private readonly Dictionary<string, QueueGroup> _groups = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Target> _targets = new(StringComparer.Ordinal);
    private readonly PublisherWindow _publishers = new();
    private long _lastStream;
    private long _publishes;
    private (string? Publisher, long Sequence) _from;

    private string Topic => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var handover = state.State.Handover;
        foreach (var (id, queue) in state.State.Subscriptions)
        {
            var target = AddTarget(id, queue);
            if (handover?.GetValueOrDefault(id) is { } position)
            {
                target.StartStream(position.Stream, position.Next);
                _lastStream = Math.Max(_lastStream, position.Stream);
            }
        }

        if (state.State.PublisherHandover is { } publishers)
        {
            _publishers.Restore(publishers, _publishes);
        }

        // Positions are good for the activation right after a handover only: after a crash they
        // would be stale, and a stale sequence would be taken for repeats.
        if (handover is not null || state.State.PublisherHandover is not null)
        {
            state.State.Handover = null;
            state.State.PublisherHandover = null;
            await state.WriteStateAsync();
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // A topic nobody subscribes to is forgotten when it goes idle, so unused topics leak nothing;
        // one with subscribers keeps its counters, and hands its streams' positions to its next activation.
        if (_targets.Count > 0)
        {
            state.State.Handover = _targets.ToDictionary(t => t.Key, t => new StreamPosition(t.Value.Stream, t.Value.NextSequence), StringComparer.Ordinal);
            state.State.PublisherHandover = _publishers.Count > 0 ? _publishers.Snapshot() : null;
            await state.WriteStateAsync();
        }
        else if (state.RecordExists)
        {
            await state.ClearStateAsync();
        }
    }

    public Task Publish(Immutable<Message[]> messages)
    {
        var batch = messages.Value;
        state.State.Published += batch.Length;
        foreach (var target in _broadcast)
        {
            Send(target, batch);
        }

        foreach (var group in _groups.Values)
        {
            group.Distribute(batch, this);
        }

        return Task.CompletedTask;
    }

    public Task Publish(string publisher, long sequence, Immutable<Message[]> messages)
    {
        PublisherWindow.Validate(publisher, sequence);
        if (_publishers.IsCopy(publisher, sequence))
        {
            return Task.CompletedTask;
        }

        // The deliveries say which publish they came from (see SubscriberGrain).
        _from = (publisher, sequence);
        try
        {
            var published = Publish(messages);
            _publishers.Took(publisher, sequence, ++_publishes);
            return published;
        }
        finally
        {
            _from = default;
        }
    }

    public async Task Subscribe(string subscriptionId, string? queue, long minimumStream = 0, bool restartStream = false)
    {
        if (_targets.TryGetValue(subscriptionId, out var existing) && existing.Queue == queue)
        {
            if (restartStream || existing.Stream < minimumStream)
            {
                existing.StartStream(NextStream(minimumStream), 0);
            }

            return;
        }

        RemoveTarget(subscriptionId);
        AddTarget(subscriptionId, queue, minimumStream);
        state.State.Subscriptions[subscriptionId] = queue;
        await state.WriteStateAsync();
    }

    public async Task Unsubscribe(string subscriptionId)
    {
        if (RemoveTarget(subscriptionId))
        {
            state.State.Subscriptions.Remove(subscriptionId);
            await state.WriteStateAsync();
        }
    }

    public Task AddDropped(long count)
    {
        state.State.Dropped += count;
        LogWarningDropped(logger, Topic, count);
        return Task.CompletedTask;
    }

    /// <summary>Null while the topic is unused: no subscriber, nothing published, nothing stored.</summary>
    public Task<TopicSnapshot?> GetInfo() => Task.FromResult(_targets.Count > 0 || state.State.Published > 0 || state.RecordExists
        ? new TopicSnapshot
        {
            Topic = Topic,
            Subscribers = _targets.Count,
            QueueGroups = _groups.ToDictionary(g => g.Key, g => g.Value.Members.Count, StringComparer.Ordinal),
            Published = state.State.Published,
            Delivered = state.State.Delivered,
            Dropped = state.State.Dropped,
            Host = RuntimeIdentity,
        }
        : null);

    private void Send(Target target, Message[] messages)
    {
        state.State.Delivered += messages.Length;
        _ = target.Grain.Deliver(new DeliveryBatch(Topic, target.Stream, target.NextSequence++, messages, _from.Publisher, _from.Sequence));
    }

    /// <summary>
    /// A stream number above any this topic handed out and above <paramref name="minimum"/>. Based on
    /// the clock, so a topic that came back on another silo (and forgot its numbers) still numbers
    /// upwards; a subscriber that sees an older number asks for a new stream above the one it knows.
    /// </summary>
    private long NextStream(long minimum)
    {
        _lastStream = Math.Max(Math.Max(DateTime.UtcNow.Ticks, minimum + 1), _lastStream + 1);
        return _lastStream;
    }

    private Target AddTarget(string id, string? queue, long minimumStream = 0)
    {
        var target = new Target(id, queue, GrainFactory.GetGrain<ISubscriberGrain>(id), NextStream(minimumStream));
        _targets[id] = target;
        if (queue is null)
        {
            _broadcast.Add(target);
            return target;
        }

        if (!_groups.TryGetValue(queue, out var group))
        {
            _groups[queue] = group = new QueueGroup();
        }

        group.Members.Add(target);
        return target;
    }

    private bool RemoveTarget(string id)
    {
        if (!_targets.Remove(id, out var target))
        {
            return false;
        }

        if (target.Queue is null)
        {
            _broadcast.Remove(target);
        }
        else if (_groups.TryGetValue(target.Queue, out var group))
        {
            group.Members.Remove(target);
            if (group.Members.Count == 0)
            {
                _groups.Remove(target.Queue);
            }
        }

        return true;
    }

    [LoggerMessage(20, LogLevel.Warning, "Topic '{Topic}': a subscriber dropped {Count} message(s) (its MaxPending were waiting, or delivery to its client failed)")]
    private static partial void LogWarningDropped(ILogger logger, string topic, long count);

    /// <summary>A subscription as the topic sees it: where to send, and the next batch number of its stream.</summary>
    private sealed class Target(string id, string? queue, ISubscriberGrain grain, long stream)
    {
        public string Id { get; } = id;
        public string? Queue { get; } = queue;
        public ISubscriberGrain Grain { get; } = grain;
        public long Stream { get; private set; } = stream;
        public long NextSequence { get; set; }

        public void StartStream(long stream, long next)
        {
            Stream = stream;
            NextSequence = next;
        }
    }

    /// <summary>A queue group: each message goes to exactly one member, the members taking turns.</summary>
    private sealed class QueueGroup
    {
        private int _turn;

        public List<Target> Members { get; } = [];

        /// <summary>
        /// Splits the batch into one contiguous slice per member (fewer when the batch is small),
        /// starting with the member whose turn it is, so load evens out across batches.
        /// </summary>
        public void Distribute(Message[] batch, TopicGrain topic)
        {
            var members = Members.Count;
            if (members == 1)
            {
                topic.Send(Members[0], batch);
                return;
            }

            var slices = Math.Min(members, batch.Length);
            for (var slice = 0; slice < slices; slice++)
            {
                var start = slice * batch.Length / slices;
                var end = (slice + 1) * batch.Length / slices;
                topic.Send(Members[(_turn + slice) % members], batch[start..end]);
            }

            // A full round starts one member later next time, so the larger slices rotate too.
            _turn = (_turn + (slices == members ? 1 : slices)) % members;
        }
    }
}
