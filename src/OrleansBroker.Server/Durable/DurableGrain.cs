using System.Globalization;
using Microsoft.Extensions.Logging;
using OrleansBroker.Durable;
using OrleansBroker.Grains;
using OrleansBroker.Internal;
using OrleansBroker.Publishing;
using OrleansBroker.Server.Diagnostics;
using OrleansBroker.Subscriptions;

namespace OrleansBroker.Server.Durable;

/// <summary>
/// One durable subscription (topic, queue). The topic appends each batch to its log and hands it here;
/// this grain sends each message to one member at a time (at most MaxAckPending out), takes the acks,
/// redelivers what is nakked or not acked within AckWait, and dead-letters what reached MaxDeliver. It
/// holds at most <see cref="Window"/> messages in memory and reads the rest from the log in pages. Its ack
/// floor, settings, counters and delivery counts are stored on a cadence, so a crash costs redeliveries of
/// what was acked since the last write, never a message: the next activation reads the log from the floor.
/// Members are SubscriberGrains; their leases end them, and an ending member's messages go to the others.
/// </summary>
[GrainType(BrokerGrainTypes.Durable)]
internal sealed partial class DurableGrain(
    [PersistentState("durable", BrokerSiloOptions.StorageName)] IPersistentState<DurableState> state,
    IDurableLog log,
    ILogger<DurableGrain> logger) : Grain, IDurableGrain, IDurableFeed
{
    /// <summary>Messages held in memory at most (from the floor on); the rest stays in the log until there is room.</summary>
    internal const int Window = 4096;

    private const int PageSize = 512;
    private const int MaxSendMessages = 1024;
    private const int MaxSettlesPerCall = 65_536;
    private static readonly TimeSpan PersistEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LastCheckEvery = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, Member> _members = new(StringComparer.Ordinal);
    private readonly long _sender = Random.Shared.NextInt64(1, long.MaxValue);
    private long _reportedBacklog = long.MaxValue;
    private readonly List<string> _order = [];
    private readonly List<DurableLedger.Entry> _toDeadLetter = [];
    private DurableLedger _ledger = new(1);
    private int _turn;
    private IGrainTimer? _timer;
    private TimeSpan _tick;
    private Task? _filling;
    private Task? _deadLettering;
    private bool _dirty;
    private DateTime _persistedAt;
    private DateTime _lastChecked;
    private string _topic = "";
    private string _queue = "";

    private DurableSettings Settings => state.State.Settings;

    private bool IsDeadLetterTopic => _topic.StartsWith(DeadLetter.TopicPrefix, StringComparison.Ordinal);

    private ITopicDurables TopicDurables => GrainFactory.GetGrain<ITopicDurables>(_topic);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (TryParseKey(this.GetPrimaryKeyString()) is not { } key)
        {
            return;
        }

        (_topic, _queue) = key;
        if (state.State.Exists)
        {
            await StartAsync();
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (state.State.Exists && _dirty && !cancellationToken.IsCancellationRequested)
        {
            await PersistAsync();
        }
    }

    public async Task<bool> Join(string memberId, DurableSettings? settings, bool create, bool restarted = false)
    {
        ValidateKey();
        Validation.ValidateSubscriptionId(memberId);
        if (settings is not null)
        {
            ValidateSettings(settings);
        }

        if (!state.State.Exists)
        {
            if (!await AdoptAsync(settings ?? DurableSettings.Default, create))
            {
                return false;
            }
        }
        else if (create && settings is not null && settings != Settings)
        {
            // The latest subscribe sets them; the topic keeps the backlog bound.
            await TopicDurables.JoinDurable(_queue, settings.MaxBacklog, create: true);
            state.State.Settings = settings;
            await state.WriteStateAsync();
            StartTimer();
        }

        if (_members.TryAdd(memberId, new Member(GrainFactory.GetGrain<ISubscriberGrain>(memberId))))
        {
            _order.Add(memberId);
            LogDebugMemberJoined(logger, _topic, _queue, memberId, _members.Count);
        }

        if (restarted)
        {
            _ledger.ReleaseUnbegun(memberId);
        }

        Pump();
        return true;
    }

    public Task Leave(string memberId)
    {
        ValidateKey();
        Validation.ValidateSubscriptionId(memberId);
        if (_members.Remove(memberId))
        {
            _order.Remove(memberId);
            var released = _ledger.Release(memberId);
            LogDebugMemberLeft(logger, _topic, _queue, memberId, released);
            Pump();
        }

        return Task.CompletedTask;
    }

    public Task Release(string memberId, long[] sequences)
    {
        ValidateKey();
        Validation.ValidateSubscriptionId(memberId);
        ArgumentNullException.ThrowIfNull(sequences);
        if (state.State.Exists && _ledger.Release(memberId, sequences) > 0)
        {
            Pump();
        }

        return Task.CompletedTask;
    }

    public async Task Deliver(long first, Immutable<Message[]> messages)
    {
        ValidateKey();
        var batch = messages.Value;
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentOutOfRangeException.ThrowIfLessThan(first, 1);
        if (batch.Length > TopicBatcher.MaxBatchMessages || Array.Exists(batch, m => m is null))
        {
            throw new ArgumentException("Not a batch a topic appends.", nameof(messages));
        }

        if (!state.State.Exists && !await AdoptAsync(DurableSettings.Default, create: false))
        {
            return;
        }

        _ledger.Last = Math.Max(_ledger.Last, first + batch.Length - 1);
        if (first <= _ledger.Next && _filling is null or { IsCompleted: true })
        {
            // Straight from the topic while memory has room: no read of the log.
            _ledger.Load(first, batch, Window);
        }

        Fill();
        Pump();
    }

    public Task Settle(string memberId, DeliveryTag[] begun, DeliveryTag[] acks, DurableNak[] naks)
    {
        ValidateKey();
        Validation.ValidateSubscriptionId(memberId);
        ArgumentNullException.ThrowIfNull(begun);
        ArgumentNullException.ThrowIfNull(acks);
        ArgumentNullException.ThrowIfNull(naks);
        if (begun.Length + acks.Length + naks.Length > MaxSettlesPerCall)
        {
            throw new ArgumentOutOfRangeException(nameof(acks), begun.Length + acks.Length + naks.Length, $"At most {MaxSettlesPerCall} tags in one call.");
        }

        foreach (var nak in naks)
        {
            Validation.ValidateNakDelay(nak.Delay);
        }

        if (!state.State.Exists)
        {
            return Task.CompletedTask;
        }

        var now = DateTime.UtcNow;
        foreach (var tag in begun)
        {
            _ledger.Begin(memberId, tag, now + Settings.AckWait);
        }

        var settled = 0;
        foreach (var ack in acks)
        {
            settled += _ledger.Ack(memberId, ack) ? 1 : 0;
        }

        foreach (var nak in naks)
        {
            settled += _ledger.Nak(memberId, nak.Tag, nak.Delay ?? Backoff(nak.Tag.DeliveryCount), now) ? 1 : 0;
        }

        if (settled > 0)
        {
            _dirty = true;
            Fill();
            Pump();

            // A topic that may be refusing publishes for this backlog hears at once that it shrank.
            if (_reportedBacklog >= Settings.MaxBacklog / 2)
            {
                Report();
            }
        }

        return Task.CompletedTask;
    }

    public Task<DurableSnapshot?> GetInfo()
    {
        ValidateKey();
        return Task.FromResult(state.State.Exists
            ? new DurableSnapshot(_queue, _members.Count, _ledger.Backlog, _ledger.AckPending, state.State.Redelivered, state.State.DeadLettered) { Host = RuntimeIdentity }
            : null);
    }

    public async Task<bool> Delete()
    {
        ValidateKey();
        var registered = await TopicDurables.LeaveDurable(_queue);
        var existed = state.State.Exists || registered;
        foreach (var member in _members.Values)
        {
            _ = member.Grain.EndDurable();
        }

        _members.Clear();
        _order.Clear();
        _toDeadLetter.Clear();
        _timer?.Dispose();
        _timer = null;
        _ledger = new DurableLedger(1);
        _dirty = false;
        if (state.RecordExists)
        {
            await state.ClearStateAsync();
        }

        state.State = new DurableState();
        DeactivateOnIdle();
        if (existed)
        {
            LogInformationDeleted(logger, _topic, _queue);
        }

        return existed;
    }

    /// <summary>
    /// Makes this grain the subscription the topic knows (it registers it when <paramref name="create"/>):
    /// for a new one, a grain whose storage was lost, or a dead-letter subscription the topic made.
    /// </summary>
    private async Task<bool> AdoptAsync(DurableSettings settings, bool create)
    {
        var floor = await TopicDurables.JoinDurable(_queue, settings.MaxBacklog, create);
        if (floor < 1 || state.State.Exists)
        {
            return state.State.Exists;
        }

        state.State = new DurableState { Exists = true, Floor = floor, Settings = settings };
        await state.WriteStateAsync();
        _persistedAt = DateTime.UtcNow;
        LogInformationCreated(logger, _topic, _queue, floor);
        await StartAsync();
        return true;
    }

    /// <summary>From the stored floor: everything above it not acked is delivered (again).</summary>
    private async Task StartAsync()
    {
        _ledger = new DurableLedger(state.State.Floor, state.State.Deliveries);
        _ledger.Last = Math.Max(_ledger.Last, await log.LastAsync(_topic));
        StartTimer();
        Fill();
    }

    private void StartTimer()
    {
        // Often enough that a redelivery is late by a small part of AckWait at most.
        var tick = TimeSpan.FromTicks(Math.Clamp(Settings.AckWait.Ticks / 4, TimeSpan.FromMilliseconds(20).Ticks, TimeSpan.FromMilliseconds(250).Ticks));
        if (_timer is not null && tick == _tick)
        {
            return;
        }

        _timer?.Dispose();
        _tick = tick;
        _timer = this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(tick, tick));
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        if (!state.State.Exists)
        {
            return;
        }

        var now = DateTime.UtcNow;
        if (_ledger.Expire(now) > 0)
        {
            _dirty = true;
        }

        if (now - _lastChecked >= LastCheckEvery && _filling is null or { IsCompleted: true })
        {
            // A delivery the topic's silo never sent (it died right after its append) is found in the log.
            _lastChecked = now;
            try
            {
                _ledger.Last = Math.Max(_ledger.Last, await log.LastAsync(_topic, cancellationToken));
            }
            catch (Exception ex)
            {
                LogWarningReadFailed(logger, ex, _topic, _queue);
            }
        }

        Fill();
        Pump();
        if (_toDeadLetter.Count > 0)
        {
            DeadLetterSoon();
        }

        if (_dirty && now - _persistedAt >= PersistEvery)
        {
            await PersistAsync();
        }
    }

    /// <summary>Stores the floor, counters and delivery counts, then tells the topic how far this subscription got.</summary>
    private async Task PersistAsync()
    {
        _dirty = false;
        _persistedAt = DateTime.UtcNow;
        state.State.Floor = _ledger.Floor;
        state.State.Deliveries = _ledger.Deliveries();
        try
        {
            await state.WriteStateAsync();
            Report();
        }
        catch (Exception ex)
        {
            _dirty = true;
            LogWarningPersistFailed(logger, ex, _topic, _queue);
        }
    }

    /// <summary>
    /// Tells the topic how far this subscription settled, for its backlog count and the log's trim. Ahead of
    /// the stored floor is fine: what the topic trims was acked, and a reload skips what the log no longer has.
    /// </summary>
    private void Report()
    {
        _reportedBacklog = _ledger.Backlog;
        _ = TopicDurables.ReportDurable(_queue, _ledger.Floor, _ledger.SettledAbove);
    }

    /// <summary>Reads from the log what memory has room for and the topic did not hand over; one read at a time.</summary>
    private void Fill()
    {
        if (_filling is null or { IsCompleted: true } && _ledger.Next <= _ledger.Last && _ledger.InMemory < Window)
        {
            _filling = FillAsync();
        }
    }

    private async Task FillAsync()
    {
        try
        {
            while (state.State.Exists && _ledger.Next <= _ledger.Last && _ledger.InMemory < Window)
            {
                var from = _ledger.Next;
                var page = await log.ReadAsync(_topic, from, (int)Math.Min(PageSize, Window - _ledger.InMemory));
                if (page.Count == 0)
                {
                    // Nothing there: the log is behind what this grain was told (deleted and begun again).
                    _ledger.Last = await log.LastAsync(_topic);
                    if (_ledger.Next > _ledger.Last)
                    {
                        break;
                    }

                    continue;
                }

                _ledger.Load(page, Window);
                Pump();
            }
        }
        catch (Exception ex)
        {
            // Tried again at the next tick.
            LogWarningReadFailed(logger, ex, _topic, _queue);
        }
    }

    /// <summary>
    /// Sends ready messages, lowest sequence first, while fewer than MaxAckPending are out: contiguous slices,
    /// one per member, the first slice to the member whose turn it is. What reached MaxDeliver is dead-lettered instead.
    /// </summary>
    private void Pump()
    {
        if (!state.State.Exists || _order.Count == 0)
        {
            return;
        }

        var now = DateTime.UtcNow;
        while (_ledger.Ready > 0 && _ledger.AckPending < Settings.MaxAckPending)
        {
            var taken = _ledger.TakeReady(Math.Min(Settings.MaxAckPending - _ledger.AckPending, MaxSendMessages));
            var sending = new List<DurableLedger.Entry>(taken.Count);
            foreach (var entry in taken)
            {
                // A dead-letter subscription never dead-letters: there is nowhere further to keep it.
                if (entry.Deliveries >= Settings.MaxDeliver && !IsDeadLetterTopic)
                {
                    _toDeadLetter.Add(entry);
                }
                else
                {
                    sending.Add(entry);
                }
            }

            var slices = Math.Min(_order.Count, sending.Count);
            for (var slice = 0; slice < slices; slice++)
            {
                var start = slice * sending.Count / slices;
                var end = (slice + 1) * sending.Count / slices;
                var memberId = _order[(_turn + slice) % _order.Count];
                var tags = new DeliveryTag[end - start];
                var messages = new Message[end - start];
                for (var i = start; i < end; i++)
                {
                    var entry = sending[i];
                    if (entry.Deliveries > 0)
                    {
                        state.State.Redelivered++;
                        SiloTelemetry.Redelivered.Add(1);
                    }

                    tags[i - start] = _ledger.Send(entry, memberId, now + UnbegunWait);
                    messages[i - start] = entry.Message;
                }

                var member = _members[memberId];
                _ = member.Grain.DeliverDurable(new DurableDelivery(_topic, _queue, tags, messages, _sender, ++member.Sent));
            }

            if (slices > 0)
            {
                _turn = (_turn + 1) % _order.Count;
                _dirty = true;
            }
        }

        if (_toDeadLetter.Count > 0)
        {
            DeadLetterSoon();
        }
    }

    private void DeadLetterSoon()
    {
        if (_deadLettering is null or { IsCompleted: true })
        {
            _deadLettering = DeadLetterAsync();
        }
    }

    /// <summary>
    /// Publishes what reached MaxDeliver to the dead-letter topic, stored there before it is settled here;
    /// what the dead-letter topic refuses (its backlog is full, its silo is gone) is tried again at the next tick.
    /// </summary>
    private async Task DeadLetterAsync()
    {
        var target = GrainFactory.GetGrain<ITopicDurables>(DeadLetter.TopicOf(_topic, _queue));
        while (_toDeadLetter.Count > 0 && state.State.Exists)
        {
            var chunk = new List<DurableLedger.Entry>();
            long bytes = 0;
            foreach (var entry in _toDeadLetter)
            {
                var size = entry.Message.SizeInBytes();
                if (chunk.Count > 0 && (chunk.Count == 256 || bytes + size > TopicBatcher.MaxBatchBytes))
                {
                    break;
                }

                chunk.Add(entry);
                bytes += size;
            }

            _toDeadLetter.RemoveRange(0, chunk.Count);
            try
            {
                await target.PublishDeadLetters(chunk.Select(DeadLetterOf).ToArray().AsImmutable());
            }
            catch (Exception ex)
            {
                _toDeadLetter.InsertRange(0, chunk);
                LogWarningDeadLetterFailed(logger, ex, _topic, _queue, chunk.Count);
                return;
            }

            foreach (var entry in chunk)
            {
                _ledger.Settle(entry.Sequence);
            }

            state.State.DeadLettered += chunk.Count;
            SiloTelemetry.DeadLettered.Add(chunk.Count);
            _dirty = true;
            LogWarningDeadLettered(logger, _topic, _queue, chunk.Count);
            Fill();
            Pump();
        }
    }

    private Message DeadLetterOf(DurableLedger.Entry entry)
    {
        var header = new Dictionary<string, string>(entry.Message.Header, StringComparer.Ordinal)
        {
            [DeadLetter.ReasonHeader] = DeadLetter.MaxDeliverReason,
            [DeadLetter.OriginalTopicHeader] = _topic,
            [DeadLetter.DeliveryCountHeader] = entry.Deliveries.ToString(CultureInfo.InvariantCulture),
        };
        return new Message(entry.Message.Body, header);
    }

    /// <summary>
    /// How long a message may wait out to a member before its handler begins it: AckWait runs from the
    /// handler's receipt, so this only catches a receipt that was never reported (a lost call, a lost batch).
    /// </summary>
    private TimeSpan UnbegunWait => TimeSpan.FromTicks(Math.Max(Settings.AckWait.Ticks * 10, TimeSpan.FromSeconds(10).Ticks));

    /// <summary>The wait before a nakked message comes back: 1 s, doubling with each delivery, at most AckWait.</summary>
    private TimeSpan Backoff(int deliveries)
    {
        var doubled = FirstBackoff.Ticks * Math.Pow(2, Math.Clamp(deliveries - 1, 0, 30));
        return TimeSpan.FromTicks((long)Math.Min(doubled, Settings.AckWait.Ticks));
    }

    /// <summary>The key names a topic that may be subscribed and a valid queue; anything else is refused.</summary>
    private void ValidateKey()
    {
        var (topic, queue) = DurableKey.Parse(this.GetPrimaryKeyString());
        Validation.ValidateReadableTopic(topic);
        Validation.ValidateQueue(queue);
    }

    private static (string Topic, string Queue)? TryParseKey(string key)
    {
        try
        {
            var parsed = DurableKey.Parse(key);
            Validation.ValidateReadableTopic(parsed.Topic);
            Validation.ValidateQueue(parsed.Queue);
            return parsed;
        }
        catch (BrokerException)
        {
            return null;
        }
    }

    /// <summary>The rules SubscribeOptions keeps, for a caller that is not our client library.</summary>
    private static void ValidateSettings(DurableSettings settings) =>
        Validation.ValidateSubscribeOptions(new SubscribeOptions
        {
            Queue = "q",
            Durable = true,
            AckWait = settings.AckWait,
            MaxDeliver = settings.MaxDeliver,
            MaxAckPending = settings.MaxAckPending,
            MaxBacklog = settings.MaxBacklog,
        });

    /// <summary>A member: its SubscriberGrain, and how many deliveries this activation numbered for it.</summary>
    private sealed class Member(ISubscriberGrain grain)
    {
        public ISubscriberGrain Grain { get; } = grain;

        public long Sent { get; set; }
    }

    [LoggerMessage(60, LogLevel.Information, "Durable subscription '{Queue}' of topic '{Topic}': created; it keeps messages from sequence {Floor} on")]
    private static partial void LogInformationCreated(ILogger logger, string topic, string queue, long floor);

    [LoggerMessage(61, LogLevel.Information, "Durable subscription '{Queue}' of topic '{Topic}': deleted with its backlog")]
    private static partial void LogInformationDeleted(ILogger logger, string topic, string queue);

    [LoggerMessage(62, LogLevel.Debug, "Durable subscription '{Queue}' of topic '{Topic}': member {Member} joined; {Members} member(s)")]
    private static partial void LogDebugMemberJoined(ILogger logger, string topic, string queue, string member, int members);

    [LoggerMessage(63, LogLevel.Debug, "Durable subscription '{Queue}' of topic '{Topic}': member {Member} left; its {Released} unacked message(s) go to the others")]
    private static partial void LogDebugMemberLeft(ILogger logger, string topic, string queue, string member, int released);

    [LoggerMessage(64, LogLevel.Warning, "Durable subscription '{Queue}' of topic '{Topic}': storing its ack floor failed; tried again")]
    private static partial void LogWarningPersistFailed(ILogger logger, Exception exception, string topic, string queue);

    [LoggerMessage(65, LogLevel.Warning, "Durable subscription '{Queue}' of topic '{Topic}': reading the log failed; tried again")]
    private static partial void LogWarningReadFailed(ILogger logger, Exception exception, string topic, string queue);

    [LoggerMessage(66, LogLevel.Warning, "Durable subscription '{Queue}' of topic '{Topic}': dead-lettering {Count} message(s) failed; they are kept and tried again")]
    private static partial void LogWarningDeadLetterFailed(ILogger logger, Exception exception, string topic, string queue, int count);

    [LoggerMessage(67, LogLevel.Warning, "Durable subscription '{Queue}' of topic '{Topic}': {Count} message(s) reached MaxDeliver and were dead-lettered")]
    private static partial void LogWarningDeadLettered(ILogger logger, string topic, string queue, int count);
}
