using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Durable;
using OrleansBroker.Grains;
using OrleansBroker.Internal;
using OrleansBroker.Publishing;
using OrleansBroker.Server.Diagnostics;
using OrleansBroker.Server.Durable;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// One topic. Fans each published batch out with one one-way call per broadcast subscription and
/// one per queue-group member it picks, numbering each subscription's batches so the subscriber
/// can restore their order. It never awaits a subscriber, so none can stall the topic. Every rule
/// the client library checks is checked here too, before anything changes: a caller that is not
/// our client gets the same refusals. A topic with durable subscriptions appends each batch to its
/// log before the publish completes and hands it to each of them; one without takes no extra step.
/// </summary>
[GrainType(BrokerGrainTypes.Topic)]
internal sealed partial class TopicGrain(
    [PersistentState("topic", BrokerSiloOptions.StorageName)] IPersistentState<TopicState> state,
    IOptions<BrokerSiloOptions> options,
    IDurableLog log,
    ILogger<TopicGrain> logger) : Grain, ITopicGrain, ITopicDurables
{
    // Dead letters carry three headers more than the message a client published.
    private const int DeadLetterHeaderBytes = 1024;

    // The trace context a client adds to a message inside a trace is not the caller's: not counted.
    private readonly int _maxMessageBytes = options.Value.MaxMessageBytes + OrleansBroker.Diagnostics.TraceContext.MaxAddedBytes;
    private readonly List<Target> _broadcast = [];
    private readonly Dictionary<string, QueueGroup> _groups = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Target> _targets = new(StringComparer.Ordinal);
    private readonly PublisherWindow _publishers = new();
    private long _lastStream;
    private long _publishes;
    private (string? Publisher, long Sequence) _from;
    private const int MaxDeparted = 1024;

    private readonly Dictionary<string, string> _departed = new(StringComparer.Ordinal);
    private readonly Queue<string> _departedOrder = new();
    private Task _writing = Task.CompletedTask;
    private bool _dirty;

    // The durable subscriptions (queue to record) and the log's last sequence number; empty on most topics.
    private readonly Dictionary<string, DurableRecord> _durables = new(StringComparer.Ordinal);
    private long _lastSequence;
    private long _appending;

    // Publishes in order that are being stored, and calls that came ahead of the batch they follow (few: a publisher
    // keeps a handful of calls in flight).
    private const int MaxWaitingCalls = 4096;
    private static readonly TimeSpan OutOfOrderWait = TimeSpan.FromSeconds(1);
    private readonly Dictionary<(string Publisher, long Sequence), Task<PublishOutcome>> _storing = [];
    private readonly Dictionary<(string Publisher, long Previous), TaskCompletionSource> _waitingFor = [];

    private string Topic => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var handover = state.State.Handover;
        LogDebugActivated(logger, Topic, state.State.Subscriptions.Count, handover?.Count ?? 0, state.State.PublisherHandover?.Count ?? 0);
        foreach (var (id, queue) in state.State.Subscriptions)
        {
            var target = AddTarget(id, queue);
            if (handover?.GetValueOrDefault(id) is { } position)
            {
                target.StartStream(position.Stream, position.Next, position.SentBefore);
                _lastStream = Math.Max(_lastStream, position.Stream);
            }
        }

        if (state.State.PublisherHandover is { } publishers)
        {
            _publishers.Restore(publishers, _publishes);
        }

        if (state.State.Durables is { Count: > 0 } durables)
        {
            foreach (var (queue, record) in durables)
            {
                _durables[queue] = record;
            }

            _lastSequence = await log.LastAsync(Topic, cancellationToken);
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
        LogDebugDeactivating(logger, Topic, reason.ReasonCode, _targets.Count);
        // A topic nobody subscribes to is forgotten when it goes idle, so unused topics leak nothing;
        // one with subscribers keeps its counters, and hands its streams' positions to its next activation.
        await WaitForAnswersAsync(cancellationToken);
        await _writing;
        if (_targets.Count > 0 || _durables.Count > 0)
        {
            state.State.Subscriptions = SubscriptionsSnapshot();
            state.State.Handover = _targets.ToDictionary(t => t.Key, t => t.Value.Position, StringComparer.Ordinal);
            state.State.PublisherHandover = _publishers.Count > 0 ? _publishers.Snapshot() : null;
            state.State.Durables = DurablesSnapshot();
            await state.WriteStateAsync();
        }
        else if (state.RecordExists)
        {
            await state.ClearStateAsync();
        }
    }

    public Task Publish(Immutable<Message[]> messages)
    {
        if (_durables.Count > 0)
        {
            return PublishDurableAsync(messages.Value, deadLetters: false, null, 0);
        }

        var batch = messages.Value;
        ValidateBatch(batch);
        FanOut(batch);
        return Task.CompletedTask;
    }

    /// <summary>The plain path: one call per broadcast subscription and per queue-group member picked.</summary>
    private void FanOut(Message[] batch)
    {
        state.State.Published += batch.Length;
        SiloTelemetry.PublishedMessages.Add(batch.Length);
        foreach (var target in _broadcast)
        {
            Send(target, batch);
        }

        var now = DateTime.UtcNow;
        foreach (var group in _groups.Values)
        {
            group.Distribute(batch, this, now, skipFull: false);
        }
    }

    public Task Publish(string publisher, long sequence, Immutable<Message[]> messages)
    {
        PublisherWindow.Validate(publisher, sequence);
        if (_publishers.IsCopy(publisher, sequence))
        {
            return Task.CompletedTask;
        }

        if (_durables.Count > 0)
        {
            return PublishDurableAsync(messages.Value, deadLetters: false, publisher, sequence);
        }

        // The deliveries say which publish they came from (see SubscriberGrain).
        _from = (publisher, sequence);
        try
        {
            var published = Publish(messages);
            Took(publisher, sequence);
            return published;
        }
        finally
        {
            _from = default;
        }
    }

    /// <remarks>
    /// Interleaved (see the interface): a call that arrives ahead of the one it names as previous waits for it here, briefly,
    /// rather than sending the publisher round again; a copy of a batch still being stored waits for that batch's outcome.
    /// </remarks>
    public Task<PublishOutcome> Publish(string publisher, long sequence, long previous, Immutable<Message[]> messages)
    {
        PublisherWindow.Validate(publisher, sequence);
        ArgumentOutOfRangeException.ThrowIfNegative(previous);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(previous, sequence);
        if (_storing.TryGetValue((publisher, sequence), out var storing))
        {
            return storing;
        }

        switch (_publishers.Refusal(publisher, sequence, previous))
        {
            case PublishOutcome.Taken:
                return TakenTask;
            case PublishOutcome.OutOfOrder:
                return PublishAfterAsync(publisher, sequence, previous, messages);
            case { } refusal:
                return Task.FromResult(refusal);
        }

        var published = Publish(publisher, sequence, messages);
        if (published.IsCompletedSuccessfully)
        {
            return TakenTask;
        }

        // Stored before taken: until then a copy of it waits for this outcome instead of being stored twice.
        var outcome = StoredAfter(published);
        _storing[(publisher, sequence)] = outcome;
        _ = outcome.ContinueWith(_ => _storing.Remove((publisher, sequence)), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Current);
        return outcome;
    }

    /// <summary>
    /// A batch that came ahead of the one before it: Orleans hands each message it receives to the thread pool on its
    /// own, so a publisher's pipelined calls often arrive a little out of order. It waits for that one, at most
    /// <see cref="OutOfOrderWait"/> (then the publisher sends both again in order), and is taken after it.
    /// </summary>
    private async Task<PublishOutcome> PublishAfterAsync(string publisher, long sequence, long previous, Immutable<Message[]> messages)
    {
        if (_waitingFor.Count >= MaxWaitingCalls)
        {
            return PublishOutcome.OutOfOrder;
        }

        var key = (publisher, previous);
        if (!_waitingFor.TryGetValue(key, out var taken))
        {
            _waitingFor[key] = taken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        try
        {
            await taken.Task.WaitAsync(OutOfOrderWait);
        }
        catch (TimeoutException)
        {
            if (_waitingFor.TryGetValue(key, out var still) && still == taken)
            {
                _waitingFor.Remove(key);
            }

            return PublishOutcome.OutOfOrder;
        }

        return await Publish(publisher, sequence, previous, messages);
    }

    /// <summary>Records that the topic took the publisher's batch, and lets a call that waited for it go on.</summary>
    private void Took(string publisher, long sequence)
    {
        _publishers.Took(publisher, sequence, ++_publishes);
        if (_waitingFor.Remove((publisher, sequence), out var waiting))
        {
            waiting.TrySetResult();
        }
    }

    private static readonly Task<PublishOutcome> TakenTask = Task.FromResult(PublishOutcome.Taken);

    private static async Task<PublishOutcome> StoredAfter(Task published)
    {
        await published;
        return PublishOutcome.Stored;
    }

    public Task Subscribe(string subscriptionId, string? queue, long minimumStream = 0, bool restartStream = false)
    {
        Validation.ValidateReadableTopic(Topic);
        Validation.ValidateSubscriptionId(subscriptionId);
        Validation.ValidateQueue(queue);
        if (!StreamNumbers.IsPlausible(minimumStream, DateTime.UtcNow))
        {
            throw new ArgumentOutOfRangeException(nameof(minimumStream), minimumStream, "Not a stream number this cluster handed out.");
        }

        if (_targets.TryGetValue(subscriptionId, out var existing) && existing.Queue == queue)
        {
            if (restartStream || existing.Stream < minimumStream)
            {
                existing.StartStream(NextStream(minimumStream), 0, 0);
            }

            return Task.CompletedTask;
        }

        RemoveTarget(subscriptionId);
        AddTarget(subscriptionId, queue, minimumStream);
        PersistSoon();
        return Task.CompletedTask;
    }

    public Task Unsubscribe(string subscriptionId)
    {
        if (RemoveTarget(subscriptionId))
        {
            PersistSoon();
        }

        return Task.CompletedTask;
    }

    public async Task HandBack(string subscriptionId, string? queue, Immutable<Message[]> messages)
    {
        Validation.ValidateSubscriptionId(subscriptionId);
        Validation.ValidateQueue(queue);
        var batch = messages.Value;
        ValidateBatch(batch);

        // The topic's own record of the subscription's group wins over the caller's word.
        queue = _targets.TryGetValue(subscriptionId, out var target) ? target.Queue : _departed.GetValueOrDefault(subscriptionId) ?? queue;
        await Unsubscribe(subscriptionId);
        if (batch.Length == 0)
        {
            return;
        }

        if (!GiveToGroup(queue, batch))
        {
            LogWarningHandedBackDropped(logger, Topic, batch.Length);
        }
    }

    /// <summary>
    /// Messages that a subscription that left will not take: no longer its deliveries, they go to the rest of its
    /// queue group, or are counted as dropped (false; the caller logs why).
    /// </summary>
    private bool GiveToGroup(string? queue, Message[] batch)
    {
        state.State.Delivered = Math.Max(0, state.State.Delivered - batch.Length);
        if (queue is not null && _groups.TryGetValue(queue, out var group))
        {
            group.Distribute(batch, this, DateTime.UtcNow, skipFull: false);
            return true;
        }

        state.State.Dropped += batch.Length;
        SiloTelemetry.Dropped(batch.Length, SiloTelemetry.NoMemberLeft);
        return false;
    }

    public Task Overflow(string subscriptionId, Immutable<Message[]> messages)
    {
        Validation.ValidateSubscriptionId(subscriptionId);
        var batch = messages.Value;
        ValidateBatch(batch);
        if (batch.Length == 0)
        {
            return Task.CompletedTask;
        }

        var now = DateTime.UtcNow;
        state.State.Delivered = Math.Max(0, state.State.Delivered - batch.Length);
        // A member that left meanwhile is looked up among the departed: its group still takes these.
        var known = _targets.TryGetValue(subscriptionId, out var full);
        var queue = known ? full!.Queue : _departed.GetValueOrDefault(subscriptionId);
        if (queue is not null && _groups.TryGetValue(queue, out var group))
        {
            if (known)
            {
                full!.FullUntil = now + FullMemberPause;
            }

            if (group.Distribute(batch, this, now, skipFull: true))
            {
                return Task.CompletedTask;
            }
        }

        state.State.Dropped += batch.Length;
        SiloTelemetry.Dropped(batch.Length, SiloTelemetry.GroupFull);
        LogWarningDropped(logger, Topic, batch.Length);
        return Task.CompletedTask;
    }

    public Task AddDropped(long count)
    {
        if (count <= 0)
        {
            return Task.CompletedTask;
        }

        state.State.Dropped += count;
        SiloTelemetry.Dropped(count, SiloTelemetry.DroppedBySubscriber);
        LogWarningDropped(logger, Topic, count);
        return Task.CompletedTask;
    }

    /// <summary>Null while the topic is unused: no subscriber, nothing published, nothing stored.</summary>
    public Task<TopicSnapshot?> GetInfo() => Task.FromResult(_targets.Count > 0 || _durables.Count > 0 || state.State.Published > 0 || state.RecordExists
        ? new TopicSnapshot
        {
            Topic = Topic,
            Subscribers = _targets.Count,
            QueueGroups = _groups.ToDictionary(g => g.Key, g => g.Value.Members.Count, StringComparer.Ordinal),
            Published = state.State.Published,
            Delivered = state.State.Delivered,
            Dropped = state.State.Dropped,
            Host = RuntimeIdentity,
            Durables = [.. _durables.Keys.Order(StringComparer.Ordinal)],
        }
        : null);

    public async Task<long> JoinDurable(string queue, long maxBacklog, bool create)
    {
        Validation.ValidateReadableTopic(Topic);
        ArgumentNullException.ThrowIfNull(queue);
        Validation.ValidateQueue(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBacklog, 1);
        if (_durables.TryGetValue(queue, out var known))
        {
            if (create && known.MaxBacklog != maxBacklog)
            {
                known.MaxBacklog = maxBacklog;
                await WriteNowAsync();
            }

            return known.Floor;
        }

        if (!create)
        {
            return 0;
        }

        if (_durables.Count == 0)
        {
            _lastSequence = await log.LastAsync(Topic);
        }

        // Kept from the next message on, and known before the subscribe completes: a publish after it is stored.
        var record = new DurableRecord { MaxBacklog = maxBacklog, Floor = _lastSequence + 1 };
        _durables[queue] = record;
        await WriteNowAsync();
        LogInformationDurableAdded(logger, Topic, queue, record.Floor);
        return record.Floor;
    }

    public async Task<bool> LeaveDurable(string queue)
    {
        Validation.ValidateReadableTopic(Topic);
        ArgumentNullException.ThrowIfNull(queue);
        Validation.ValidateQueue(queue);
        if (!_durables.Remove(queue))
        {
            return false;
        }

        await WriteNowAsync();
        if (_durables.Count == 0)
        {
            await log.DeleteAsync(Topic);
            _lastSequence = 0;
        }
        else
        {
            await log.TrimAsync(Topic, _durables.Values.Min(d => d.Floor));
        }

        return true;
    }

    public async Task ReportDurable(string queue, long floor, long settledAbove)
    {
        if (queue is null || !_durables.TryGetValue(queue, out var record) || floor < record.Floor || floor > _lastSequence + 1 || settledAbove < 0)
        {
            return;
        }

        var trim = floor > record.Floor;
        record.Floor = floor;
        record.SettledAbove = settledAbove;
        PersistSoon();
        if (trim)
        {
            try
            {
                await log.TrimAsync(Topic, _durables.Values.Min(d => d.Floor));
            }
            catch (Exception ex)
            {
                LogWarningTrimFailed(logger, ex, Topic);
            }
        }
    }

    public async Task PublishDeadLetters(Immutable<Message[]> messages)
    {
        if (!Topic.StartsWith(DeadLetter.TopicPrefix, StringComparison.Ordinal))
        {
            throw new BrokerException(BrokerErrorCode.InvalidTopic, $"'{Topic}' is not a dead-letter topic.");
        }

        Validation.ValidateReadableTopic(Topic);
        ValidateBatch(messages.Value, deadLetters: true);

        // The first dead letter creates the subscription that keeps them: a dead letter is never dropped for want of a reader.
        await JoinDurable(DeadLetter.Queue, DurableSettings.Default.MaxBacklog, create: !_durables.ContainsKey(DeadLetter.Queue));
        await PublishDurableAsync(messages.Value, deadLetters: true, null, 0);
    }

    /// <summary>
    /// The durable path: refused whole when a durable subscription has no room for the batch; else appended to
    /// the log (one write), fanned out as on the plain path, and handed to each durable subscription. The
    /// grain is not reentrant, so batches are appended and delivered in the order they came.
    /// </summary>
    private async Task PublishDurableAsync(Message[] batch, bool deadLetters, string? publisher, long sequence)
    {
        ValidateBatch(batch, deadLetters);
        foreach (var (queue, record) in _durables)
        {
            if (record.Backlog(_lastSequence) + _appending + batch.Length > record.MaxBacklog)
            {
                SiloTelemetry.BacklogRefused.Add(batch.Length);
                throw new BrokerException(BrokerErrorCode.BacklogFull,
                    $"The durable subscription '{queue}' of topic '{Topic}' holds {record.Backlog(_lastSequence)} message(s) of its MaxBacklog {record.MaxBacklog}: not accepted.");
            }
        }

        // Publishes in order interleave (ITopicGrain), so other batches may be appended meanwhile: they count against the backlog too.
        _appending += batch.Length;
        long first;
        try
        {
            first = await log.AppendAsync(Topic, batch);
        }
        finally
        {
            _appending -= batch.Length;
        }

        _lastSequence = Math.Max(_lastSequence, first + batch.Length - 1);
        _from = (publisher, sequence);
        try
        {
            FanOut(batch);
        }
        finally
        {
            _from = default;
        }

        if (publisher is not null)
        {
            Took(publisher, sequence);
        }

        var appended = batch.AsImmutable();
        foreach (var queue in _durables.Keys)
        {
            _ = GrainFactory.GetGrain<IDurableFeed>(DurableKey.Of(Topic, queue)).Deliver(first, appended);
        }
    }

    /// <summary>Stores the subscription set and the durable subscriptions now, after any write in progress.</summary>
    private async Task WriteNowAsync()
    {
        await _writing;
        state.State.Subscriptions = SubscriptionsSnapshot();
        state.State.Durables = DurablesSnapshot();
        await state.WriteStateAsync();
    }

    private Dictionary<string, DurableRecord>? DurablesSnapshot() => _durables.Count == 0
        ? null
        : _durables.ToDictionary(d => d.Key, d => new DurableRecord { MaxBacklog = d.Value.MaxBacklog, Floor = d.Value.Floor, SettledAbove = d.Value.SettledAbove }, StringComparer.Ordinal);

    /// <summary>
    /// Stores the subscription set behind the caller's back: no subscribe waits for the store, and a
    /// storm of them (every client re-joining after a crash) costs a few writes, not one rewrite each.
    /// A write lost with the silo costs nothing lasting: renewals re-join what the topic forgot.
    /// </summary>
    private void PersistSoon()
    {
        _dirty = true;
        if (_writing.IsCompleted)
        {
            _writing = WriteBehindAsync();
        }
    }

    private async Task WriteBehindAsync()
    {
        try
        {
            while (_dirty)
            {
                _dirty = false;
                state.State.Subscriptions = SubscriptionsSnapshot();
                state.State.Durables = DurablesSnapshot();
                await state.WriteStateAsync();
            }
        }
        catch (Exception ex)
        {
            // Tried again with the next change; meanwhile renewals keep the topic's own set whole.
            _dirty = true;
            LogWarningPersistFailed(logger, ex, Topic);
        }
    }

    // A fresh copy for each write: the grain goes on changing its set while the store reads this one.
    private Dictionary<string, string?> SubscriptionsSnapshot() =>
        _targets.ToDictionary(t => t.Key, t => t.Value.Queue, StringComparer.Ordinal);

    /// <summary>
    /// The topic's name and every message, against the same rules as the client library and this
    /// silo's limits; the batch bounded as the client's batcher bounds it. Refuses the whole batch.
    /// </summary>
    private void ValidateBatch(Message[] batch, bool deadLetters = false)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (deadLetters)
        {
            Validation.ValidateReadableTopic(Topic);
        }
        else
        {
            Validation.ValidateTopic(Topic);
        }

        var maxMessageBytes = deadLetters ? _maxMessageBytes + DeadLetterHeaderBytes : _maxMessageBytes;
        if (batch.Length > TopicBatcher.MaxBatchMessages)
        {
            throw new BrokerException(BrokerErrorCode.MessageTooLarge,
                $"A batch of {batch.Length} messages is more than the silo takes in one call ({TopicBatcher.MaxBatchMessages}).");
        }

        long bytes = 0;
        foreach (var message in batch)
        {
            bytes += Validation.ValidateMessage(message, maxMessageBytes);
        }

        if (batch.Length > 1 && bytes > Math.Max(TopicBatcher.MaxBatchBytes, maxMessageBytes))
        {
            throw new BrokerException(BrokerErrorCode.MessageTooLarge,
                $"A batch of {bytes} bytes is more than the silo takes in one call ({Math.Max(TopicBatcher.MaxBatchBytes, maxMessageBytes)}).");
        }
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
        else
        {
            RememberDeparted(id, target.Queue);
        }

        if (target.Queue is not null && _groups.TryGetValue(target.Queue, out var group))
        {
            group.Members.Remove(target);
            if (group.Members.Count == 0)
            {
                _groups.Remove(target.Queue);
            }
        }

        return true;
    }

    /// <summary>
    /// Keeps the group of the last queue-group members that left: batches already on their way to a
    /// member come back after it left (handed back by a grain that no longer knows its group), and
    /// must still go to the rest of its group. Bounded: the oldest is forgotten first.
    /// </summary>
    private void RememberDeparted(string id, string queue)
    {
        if (_departed.TryAdd(id, queue))
        {
            _departedOrder.Enqueue(id);
            if (_departedOrder.Count > MaxDeparted)
            {
                _departed.Remove(_departedOrder.Dequeue());
            }
        }
    }

    [LoggerMessage(26, LogLevel.Information, "Topic '{Topic}': durable subscription '{Queue}' added; it keeps messages from sequence {Floor} on")]
    private static partial void LogInformationDurableAdded(ILogger logger, string topic, string queue, long floor);

    [LoggerMessage(27, LogLevel.Warning, "Topic '{Topic}': trimming its durable log failed; tried again at the next report")]
    private static partial void LogWarningTrimFailed(ILogger logger, Exception exception, string topic);

    [LoggerMessage(23, LogLevel.Debug, "Topic '{Topic}': activated with {Subscriptions} subscription(s), {Streams} stream position(s) and {Publishers} publisher number(s) handed over (a subscription without one starts a new stream)")]
    private static partial void LogDebugActivated(ILogger logger, string topic, int subscriptions, int streams, int publishers);

    [LoggerMessage(24, LogLevel.Debug, "Topic '{Topic}': deactivating ({Reason}) with {Subscriptions} subscription(s)")]
    private static partial void LogDebugDeactivating(ILogger logger, string topic, DeactivationReasonCode reason, int subscriptions);

    [LoggerMessage(22, LogLevel.Warning, "Topic '{Topic}': storing its subscriptions failed; retried with the next change")]
    private static partial void LogWarningPersistFailed(ILogger logger, Exception exception, string topic);

    [LoggerMessage(21, LogLevel.Warning, "Topic '{Topic}': a subscription ended with {Count} message(s) it never delivered, and no queue-group member remains to take them; dropped")]
    private static partial void LogWarningHandedBackDropped(ILogger logger, string topic, long count);

    [LoggerMessage(20, LogLevel.Warning, "Topic '{Topic}': a subscriber dropped {Count} message(s) (its MaxPending messages or MaxSubscriptionBytes were waiting, or delivery to its client failed)")]
    private static partial void LogWarningDropped(ILogger logger, string topic, long count);

    /// <summary>
    /// How long a queue-group member that overflowed is passed over. Short, and renewed by its next
    /// overflow: a mark that outlived the congestion would only cost the group one member's share.
    /// </summary>
    private static readonly TimeSpan FullMemberPause = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// A subscription as the topic sees it: where to send, the next batch number of its stream and the
    /// messages sent on the stream so far (each batch carries the count before it).
    /// </summary>
    private sealed class Target(string id, string? queue, ISubscriberGrain grain, long stream)
    {
        /// <summary>Until when the member is passed over: it overflowed (see <see cref="Overflow"/>).</summary>
        public DateTime FullUntil { get; set; }

        public string Id { get; } = id;
        public string? Queue { get; } = queue;
        public ISubscriberGrain Grain { get; } = grain;
        public long Stream { get; private set; } = stream;
        public long NextSequence { get; set; }
        public long SentMessages { get; set; }

        /// <summary>The newest batch of the current stream the subscriber answered; -1 for none.</summary>
        public long AnsweredThrough { get; private set; } = -1;

        public StreamPosition Position => new(Stream, NextSequence, SentMessages);

        public void StartStream(long stream, long next, long sentMessages)
        {
            Stream = stream;
            NextSequence = next;
            SentMessages = sentMessages;
            AnsweredThrough = -1;
        }

        public void Answered(DeliveryBatch batch)
        {
            if (batch.Stream == Stream && batch.Sequence > AnsweredThrough)
            {
                AnsweredThrough = batch.Sequence;
            }
        }
    }

    /// <summary>A queue group: each message goes to exactly one member, the members taking turns.</summary>
    private sealed class QueueGroup
    {
        private int _turn;

        public List<Target> Members { get; } = [];

        /// <summary>
        /// Splits the batch into one contiguous slice per member (fewer when the batch is small),
        /// starting with the member whose turn it is, so load evens out across batches. Members that
        /// overflowed lately are passed over, as MemoryBroker passes over a full member; when all
        /// are full the batch goes to them all anyway (they count what they drop), unless
        /// <paramref name="skipFull"/>, and then nothing is sent: returns false.
        /// </summary>
        public bool Distribute(Message[] batch, TopicGrain topic, DateTime now, bool skipFull)
        {
            var members = Members;
            if (Members.Exists(m => m.FullUntil > now))
            {
                var open = Members.FindAll(m => m.FullUntil <= now);
                if (open.Count > 0)
                {
                    members = open;
                }
                else if (skipFull)
                {
                    return false;
                }
            }

            if (members.Count == 1)
            {
                topic.Send(members[0], batch);
                return true;
            }

            var slices = Math.Min(members.Count, batch.Length);
            for (var slice = 0; slice < slices; slice++)
            {
                var start = slice * batch.Length / slices;
                var end = (slice + 1) * batch.Length / slices;
                topic.Send(members[(_turn + slice) % members.Count], batch[start..end]);
            }

            // A full round starts one member later next time, so the larger slices rotate too.
            _turn = (_turn + (slices == members.Count ? 1 : slices)) % members.Count;
            return true;
        }
    }
}
