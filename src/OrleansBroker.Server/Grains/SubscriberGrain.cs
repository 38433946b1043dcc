using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Grains;
using OrleansBroker.Internal;
using OrleansBroker.Publishing;
using OrleansBroker.Subscriptions;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// One subscription. Takes batches from its topic without ever making it wait, holds at most
/// MaxPending messages and MaxSubscriptionBytes bytes (dropping and counting the rest: the gate's
/// held batches and the delivery in flight count too), and pumps them to the client's observer
/// one call at a time, merging whatever queued meanwhile into the next call. Reentrant so that
/// new batches are taken while a delivery is in flight; every turn runs on the grain's one thread.
/// </summary>
/// A member of a durable subscription takes its messages from the durable grain instead of the topic,
/// never drops them, and leaves the durable grain (which gives its unacked messages to the other members)
/// where a plain subscription leaves its topic. See SubscriberGrain.Durable.cs.
[Reentrant]
[GrainType(BrokerGrainTypes.Subscriber)]
internal sealed partial class SubscriberGrain(
    [PersistentState("subscription", BrokerSiloOptions.StorageName)] IPersistentState<SubscriberState> state,
    IOptions<BrokerSiloOptions> options,
    ILogger<SubscriberGrain> logger) : Grain, ISubscriberGrain
{
    internal const int MaxDeliveryMessages = TopicBatcher.MaxBatchMessages;
    internal const long MaxDeliveryBytes = TopicBatcher.MaxBatchBytes;

    /// <summary>
    /// A delivery whose answer has not come back after this long is sent again (then after twice as
    /// long, up to <see cref="MaxResendAfter"/>). Orleans would wait its whole response timeout (30 s)
    /// for an answer lost with a gateway that died; a client that is only busy takes the copy as a no-op.
    /// </summary>
    internal static readonly TimeSpan ResendAfter = TimeSpan.FromSeconds(2);
    internal static readonly TimeSpan MaxResendAfter = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetryAfterRejection = TimeSpan.FromMilliseconds(200);

    private readonly TimeSpan _lease = options.Value.SubscriptionLease;
    private readonly int _maxPendingLimit = options.Value.MaxPendingLimit;
    private readonly long _maxBytes = options.Value.MaxSubscriptionBytes;
    private readonly SequenceGate _gate = new(options.Value.MaxSubscriptionBytes);
    private readonly List<DeliveryBatch> _ready = [];
    private readonly Queue<Message[]> _pending = new();
    private int _pendingCount;
    private long _pendingBytes;
    private long _inFlightBytes;
    private Task? _pump;
    private DateTime _leaseEnds;
    private IGrainTimer? _leaseTimer;
    private IGrainTimer? _gapTimer;
    private Task? _ending;
    private SubscriptionSpec? _endingSpec;
    private bool _clientClosed;
    private readonly List<Message> _unaccepted = [];
    private long _restartAsked;

    // Names the numbering of deliveries to the client, which takes each number once and in order. A new one
    // unless the previous activation handed over its own (the client then orders the two activations' deliveries).
    private long _sender = Random.Shared.NextInt64(1, long.MaxValue);
    private long _sent;

    // The messages in the plain deliveries numbered so far (each carries the count before it), less those this
    // grain counted as dropped itself: the client counts a lost delivery's messages from the next one's count,
    // so a delivery the grain counted must not be in it too. Carried on with the numbering.
    private long _sentMessages;

    // Deliveries went out as one-way calls: the client learns of one lost on the way only from a later delivery.
    private bool _sentWithoutAnswers;
    private bool _stopPump;
    private (long Number, long SentBefore, Message[] Batch)? _inFlight;

    // The newest publish taken from each recent publisher: a topic that came back after a crash forgets what it
    // took, so a publish sent again to it can arrive here twice (once from each activation).
    private readonly PublisherWindow _publishers = new(maxPublishers: 256);
    private long _taken;

    private string Id => this.GetPrimaryKeyString();

    private ITopicGrain Topic(SubscriptionSpec spec) => GrainFactory.GetGrain<ITopicGrain>(spec.Topic);

    private SubscriptionSpec? Spec => state.State.Spec;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Spec is not { } spec)
        {
            return;
        }

        // Back after idle collection or a move. The old lease is unknown: grant a fresh one, so a
        // dead client costs at most one more lease.
        StartLease();
        var oneWayBefore = false;
        if (state.State.HandoverSender is { } numbering && state.State.Handover is not null)
        {
            // The old activation's last deliveries may still be on their way to the client: numbered after
            // them, these wait there for them; a lost one is counted from the running count carried on here.
            (_sender, _sent, _sentMessages) = (numbering.Sender, numbering.Sent, numbering.SentMessages);
            oneWayBefore = numbering.SentWithoutAnswers;
        }

        LogDebugActivated(logger, Id, _sender, _sent, _sentMessages, state.State.Handover?.Stream, state.State.Handover?.Next);
        if (state.State.Handover is { } position)
        {
            // A graceful handover: carry on the same stream (batches in flight belong to it).
            _gate.Restore(position);
            state.State.Handover = null;
            state.State.HandoverSender = null;
            await state.WriteStateAsync();
            if (oneWayBefore)
            {
                // The old activation's last deliveries were one-way: an empty delivery, answered, carries the running
                // count now, so the client counts one of them lost on the way without waiting for the next message.
                _pending.Enqueue([]);
                _pump ??= PumpAsync();
            }
        }
        else if (spec.Durable is not null)
        {
            // After a crash: back into the durable subscription, unless it was deleted meanwhile.
            if (!await Durable(spec).Join(Id, null, create: false, restarted: true))
            {
                _ = EndAsync([]);
            }
        }
        else
        {
            // After a crash the place in the topic's stream is lost: ask the topic for a new stream.
            await Topic(spec).Subscribe(Id, spec.Queue, restartStream: true);
        }
    }

    public async Task<TimeSpan> Attach(SubscriptionSpec spec, IMessageObserver observer)
    {
        ValidateAttach(spec, observer);
        while (_ending is { IsCompleted: false } ending)
        {
            // An ending in progress finishes first: it would otherwise reset what this attach sets.
            // Again after each: another attach and ending may have come and gone meanwhile.
            await ending;
        }

        _ending = null;
        _endingSpec = null;
        _clientClosed = false;
        _unaccepted.Clear();
        state.State.Spec = spec;
        state.State.Observer = observer;
        StartLease();
        await state.WriteStateAsync();
        if (spec.Durable is not null)
        {
            // Zero: the durable subscription this client had is gone (deleted); the client ends its member.
            if (!await JoinDurableAsync(spec, create: !spec.Rejoin))
            {
                await EndAsync([]);
                return TimeSpan.Zero;
            }

            return _lease;
        }

        // A new stream even when the topic still has this subscription: this activation may be a
        // new one (its state lost with its silo) and cannot know where the old stream had got to.
        await Topic(spec).Subscribe(Id, spec.Queue, _gate.Stream, restartStream: true);
        return _lease;
    }

    public async Task<bool> Renew()
    {
        if (Spec is not { } spec || _ending is not null)
        {
            return false;
        }

        _leaseEnds = DateTime.UtcNow + _lease;
        if (spec.Durable is not null)
        {
            // The durable grain may have lost its members (its silo died): joining again is idempotent.
            if (!await JoinDurableAsync(spec, create: false))
            {
                _ = EndAsync([]);
                return false;
            }

            return true;
        }

        // The topic may have lost this subscription (its silo died, and its storage with it):
        // re-joining is idempotent and costs the topic nothing when it still knows us.
        await Topic(spec).Subscribe(Id, spec.Queue, _gate.Stream);
        return true;
    }

    public Task Detach(Immutable<Message[]> unbegun) => EndAsync(unbegun.Value ?? []);

    public Task Deliver(DeliveryBatch batch)
    {
        if (!IsPlausible(batch))
        {
            LogWarningImplausibleBatch(logger, Id);
            return Task.CompletedTask;
        }

        if (_endingSpec is { } leaving)
        {
            // Sent before the topic took this subscription off: the rest of its group takes it.
            _ = HandBackAsync(leaving, batch.Messages);
            return Task.CompletedTask;
        }

        if (Spec is null)
        {
            // The topic still lists a subscription this grain no longer holds: take it off, and
            // let the topic give the batch to another member of its group or count it.
            return GrainFactory.GetGrain<ITopicGrain>(batch.Topic).HandBack(Id, null, batch.Messages.AsImmutable());
        }

        if (DateTime.UtcNow > _leaseEnds)
        {
            LogInformationLeaseExpired(logger, Id, Spec.Topic);
            return EndAsync(batch.Messages);
        }

        _ready.Clear();
        if (!_gate.Accept(batch, _ready, DateTime.UtcNow) && _restartAsked < _gate.Stream)
        {
            // The topic sends an older stream than one seen here (it came back on a silo whose
            // clock is behind): ask it, once per stream, for a new one.
            _restartAsked = _gate.Stream;
            _ = Topic(Spec).Subscribe(Id, Spec.Queue, _gate.Stream, restartStream: true);
        }

        CountGateDrops(Spec);
        if (_gate.HasGap)
        {
            _gapTimer ??= this.RegisterGrainTimer(FlushGapAsync, new GrainTimerCreationOptions(SequenceGate.GapTimeout, SequenceGate.GapTimeout) { Interleave = true });
        }

        EnqueueReady();
        return Task.CompletedTask;
    }

    /// <summary>A gap still open after its timeout is given up on, even when no more batches come to trigger it.</summary>
    private Task FlushGapAsync(CancellationToken cancellationToken)
    {
        if (Spec is { } spec)
        {
            _ready.Clear();
            _gate.Flush(_ready, DateTime.UtcNow);
            CountGateDrops(spec);
            EnqueueReady();
        }

        if (!_gate.HasGap)
        {
            _gapTimer?.Dispose();
            _gapTimer = null;
        }

        return Task.CompletedTask;
    }

    /// <summary>What the gate gave up on or threw away is counted with the topic's drops, with the reason in the log.</summary>
    private void CountGateDrops(SubscriptionSpec spec)
    {
        var dropped = 0L;
        if (_gate.TakeDiscarded() is > 0 and var discarded)
        {
            LogWarningDiscarded(logger, Id, discarded);
            dropped += discarded;
        }

        if (_gate.TakeLost() is > 0 and var lost)
        {
            LogWarningLostOnTheWay(logger, Id, lost, SequenceGate.GapTimeout);
            dropped += lost;
        }

        if (dropped > 0)
        {
            _ = Topic(spec).AddDropped(dropped);
        }
    }

    /// <summary>Queues the batches the gate released and makes sure the pump runs.</summary>
    private void EnqueueReady()
    {
        if (Spec is not { } spec)
        {
            return;
        }

        foreach (var ready in _ready)
        {
            if (ready.Publisher is { } publisher)
            {
                if (_publishers.IsCopy(publisher, ready.PublisherSequence))
                {
                    continue;
                }

                _publishers.Took(publisher, ready.PublisherSequence, ++_taken);
            }

            var taken = Enqueue(ready.Messages, spec.MaxPending);
            if (taken == ready.Messages.Length)
            {
                continue;
            }

            // Full. A queue-group member hands the rest back for the other members; a broadcast
            // subscriber drops it, counted.
            if (spec.Queue is null)
            {
                _ = Topic(spec).AddDropped(ready.Messages.Length - taken);
            }
            else
            {
                _ = OverflowAsync(spec, ready.Messages[taken..]);
            }
        }

        if (_pump is null && _pending.Count > 0 && !_clientClosed)
        {
            _pump = PumpAsync();
        }
    }

    private async Task OverflowAsync(SubscriptionSpec spec, Message[] messages)
    {
        try
        {
            await Topic(spec).Overflow(Id, messages.AsImmutable());
        }
        catch (Exception ex)
        {
            LogWarningHandBackFailed(logger, ex, Id, messages.Length);
        }
    }

    /// <summary>
    /// Queues the longest run that fits under <paramref name="maxPending"/> messages and the byte
    /// budget (what waits, what is on its way to the client, what the gate holds); returns how many it took.
    /// </summary>
    private int Enqueue(Message[] messages, int maxPending)
    {
        var room = maxPending - _pendingCount;
        var byteRoom = _maxBytes - _pendingBytes - _inFlightBytes - _gate.HeldBytes;
        var taken = 0;
        long takenBytes = 0;
        while (taken < messages.Length && taken < room)
        {
            var size = messages[taken].SizeInBytes();
            if (takenBytes + size > byteRoom)
            {
                break;
            }

            takenBytes += size;
            taken++;
        }

        if (taken > 0)
        {
            _pending.Enqueue(taken == messages.Length ? messages : messages[..taken]);
            _pendingCount += taken;
            _pendingBytes += takenBytes;
        }

        return taken;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        LogDebugDeactivating(logger, Id, _sender, reason.ReasonCode, _sent, _sentMessages, _inFlight?.Number, _pendingCount, _gate.Stream, _gate.Position.Next);
        // Batches held back for a gap would not survive the activation: they go out now, in order.
        if (_gate.HasGap && Spec is { } held)
        {
            _ready.Clear();
            _gate.FlushAll(_ready);
            CountGateDrops(held);
            EnqueueReady();
        }

        // What a closing client refused waits for its Detach, which would reach the next activation
        // without it: hand it back now.
        if (_unaccepted.Count > 0 && Spec is { } leaving)
        {
            var refused = _unaccepted.ToArray();
            _unaccepted.Clear();
            await HandBackAsync(leaving, refused);
        }

        if (reason.ReasonCode == DeactivationReasonCode.DirectoryFailure)
        {
            // The silo that held this grain's directory registration is leaving, and the grain's next
            // activation may be running already. The client's answers are routed through the directory,
            // so they would go there: deliver what is buffered without waiting for answers.
            if (SendBufferedWithoutAnswers() is > 0 and var sent)
            {
                LogInformationSentWithoutAnswersDirectoryLost(logger, Id, sent);
            }
        }
        else
        {
            // Idle collection or a silo shutting down: hand over what is buffered rather than drop it.
            if (_pump is null && (_pending.Count > 0 || _durableQueue.Count > 0))
            {
                _pump = PumpAsync();
            }

            // While a silo stops, the directory may stop naming this activation before it is done (when the
            // stopping silo held its registration), and then answers go elsewhere: past one resend
            // interval without them, what is left goes out without waiting for answers.
            if (_pump is { } pump)
            {
                await pump.WaitAsync(ResendAfter, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.SuppressThrowing);
                if (!pump.IsCompleted && SendBufferedWithoutAnswers() is > 0 and var sent)
                {
                    LogInformationSentWithoutAnswersUnanswered(logger, Id, reason.ReasonCode, ResendAfter, sent);
                }

                _stopPump = true;
            }
        }

        // A durable member's messages that did not get out go back to its durable grain, for whoever is next.
        await ReleaseDurableQueueAsync();
        if (_pendingCount > 0 && Spec is { } spec)
        {
            // The silo's shutdown did not wait for a client this slow: say what it cost.
            LogWarningShutdownDropped(logger, Id, _pendingCount);
            _ = Topic(spec).AddDropped(_pendingCount);
        }

        if (Spec is not null && _ending is null && !cancellationToken.IsCancellationRequested)
        {
            // Nothing more is sent from here (the pump has stopped): the next activation numbers after _sent.
            state.State.Handover = _gate.Position;
            state.State.HandoverSender = new SenderPosition(_sender, _sent, _sentMessages, _sentWithoutAnswers);
            await state.WriteStateAsync();
        }
    }

    private async Task PumpAsync()
    {
        await Task.Yield();
        try
        {
            while ((_pending.Count > 0 || _durableQueue.Count > 0) && _ending is null && !_clientClosed && !_stopPump && state.State.Observer is { } observer)
            {
                var (batch, tags) = _durableQueue.Count > 0 ? TakeDurableBatch() : (TakeBatch(), null);
                var (number, sentBefore) = Number(batch, tags);
                if (!await DeliverToClientAsync(observer, number, sentBefore, batch, tags))
                {
                    return;
                }
            }
        }
        finally
        {
            _pump = null;
        }
    }

    /// <summary>
    /// Delivers one numbered batch to the client: sends it again while its answer is late or the call
    /// was rejected on the way (a gateway died), until it is taken, the subscription ends or the grain
    /// deactivates. False: stop pumping.
    /// </summary>
    private async Task<bool> DeliverToClientAsync(IMessageObserver observer, long number, long sentBefore, Message[] batch, DeliveryTag[]? tags)
    {
        var wait = ResendAfter;
        while (true)
        {
            _inFlight = (number, sentBefore, batch);
            _inFlightTags = tags;
            var call = tags is null
                ? observer.OnMessages(_sender, number, sentBefore, batch.AsImmutable())
                : observer.OnDurableMessages(_sender, number, batch.AsImmutable(), tags);
            try
            {
                var taken = await call.WaitAsync(wait);
                _inFlight = null;
                _inFlightBytes = 0;
                if (!taken)
                {
                    // The client is ending this subscription: its Detach hands this back with the rest
                    // (a durable member's leaving gives the durable grain back all it has out).
                    _clientClosed = true;
                    if (tags is null)
                    {
                        _unaccepted.AddRange(batch);
                    }

                    return false;
                }

                return true;
            }
            catch (TimeoutException) when (!call.IsCompleted)
            {
                // No answer yet: lost, or the client is busy. Either way a copy is safe.
                _ = call.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                LogDebugResending(logger, Id, number, wait);
                wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, MaxResendAfter.Ticks));
            }
            catch (ClientNotAvailableException)
            {
                // Not awaited: the ending waits for this pump to stop.
                _inFlight = null;
                _inFlightBytes = 0;
                LogInformationClientGone(logger, Id, Spec?.Topic);
                _ = EndAsync(tags is null ? batch : []);
                return false;
            }
            catch (Exception ex) when (ex is TimeoutException or OrleansMessageRejectionException)
            {
                // Failed on the way (a gateway died under it): send it again by another route.
                LogDebugResendingAfterFailure(logger, Id, number, ErrorText.FirstLine(ex));
                await Task.Delay(RetryAfterRejection);
            }
            catch (Exception ex)
            {
                // Counted with the drops: TopicInfo shows every message that did not get through.
                _inFlight = null;
                _inFlightBytes = 0;
                if (tags is not null)
                {
                    // Still out to this member: the durable grain sends it again after AckWait.
                    LogWarningDurableDeliveryFailed(logger, ex, Id, batch.Length);
                    return true;
                }

                LogWarningDeliveryFailed(logger, ex, Id, batch.Length);

                // Counted here, so out of the running count: the client, which most likely never got this number,
                // counts only what later deliveries' counts say is missing (a delivery it takes resets its count).
                _sentMessages -= batch.Length;
                if (Spec is { } spec)
                {
                    _ = Topic(spec).AddDropped(batch.Length);
                }

                return true;
            }

            if (_ending is not null || _stopPump || Spec is null)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Stops the pump and sends the delivery still waiting for its answer (under its number and count: the client
    /// takes it once) and everything buffered, in order, as one-way calls. Returns how many messages it sent.
    /// </summary>
    private int SendBufferedWithoutAnswers()
    {
        _stopPump = true;
        if (state.State.Observer is not { } observer || _ending is not null)
        {
            return 0;
        }

        var sent = 0;
        if (_inFlight is { } inFlight)
        {
            _ = _inFlightTags is { } tags
                ? observer.OnDurableMessagesWithoutAnswer(_sender, inFlight.Number, inFlight.Batch.AsImmutable(), tags)
                : observer.OnMessagesWithoutAnswer(_sender, inFlight.Number, inFlight.SentBefore, inFlight.Batch.AsImmutable());
            sent += inFlight.Batch.Length;
            _inFlight = null;
        }

        while (_durableQueue.Count > 0)
        {
            var (batch, tags) = TakeDurableBatch();
            _ = observer.OnDurableMessagesWithoutAnswer(_sender, Number(batch, tags).Number, batch.AsImmutable(), tags);
            sent += batch.Length;
        }

        while (_pending.Count > 0)
        {
            var batch = TakeBatch();
            var (number, sentBefore) = Number(batch, tags: null);
            _ = observer.OnMessagesWithoutAnswer(_sender, number, sentBefore, batch.AsImmutable());
            sent += batch.Length;
        }

        _sentWithoutAnswers |= sent > 0;
        return sent;
    }

    /// <summary>
    /// The next delivery's number, and the running count it carries: the messages of the plain deliveries numbered
    /// before it. A durable delivery adds nothing to the count (a durable message that never arrives comes back after AckWait).
    /// </summary>
    private (long Number, long SentBefore) Number(Message[] batch, DeliveryTag[]? tags)
    {
        var sentBefore = _sentMessages;
        if (tags is null)
        {
            _sentMessages += batch.Length;
        }

        return (++_sent, sentBefore);
    }

    /// <summary>
    /// Everything waiting, merged into one delivery of at most <see cref="MaxDeliveryMessages"/>
    /// and <see cref="MaxDeliveryBytes"/> (a single larger batch goes alone). Its bytes count as in flight until the client has it.
    /// </summary>
    private Message[] TakeBatch()
    {
        var first = _pending.Dequeue();
        var bytes = MessageBytes.Of(first);
        Message[] batch;
        if (_pending.Count == 0 || first.Length >= MaxDeliveryMessages || bytes >= MaxDeliveryBytes)
        {
            batch = first;
        }
        else
        {
            var merged = new List<Message>(Math.Min(_pendingCount, MaxDeliveryMessages));
            merged.AddRange(first);
            while (_pending.TryPeek(out var next) && merged.Count + next.Length <= MaxDeliveryMessages
                && MessageBytes.Of(next) is var nextBytes && bytes + nextBytes <= MaxDeliveryBytes)
            {
                merged.AddRange(_pending.Dequeue());
                bytes += nextBytes;
            }

            batch = merged.ToArray();
        }

        _pendingCount -= batch.Length;
        _pendingBytes -= bytes;
        _inFlightBytes = bytes;
        return batch;
    }

    /// <summary>
    /// The spec as the client library makes it, and no takeover: a live subscription stays bound to
    /// its client's observer (its own client re-attaches with the same one).
    /// </summary>
    private void ValidateAttach(SubscriptionSpec spec, IMessageObserver observer)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(observer);
        Validation.ValidateSubscriptionId(Id);
        Validation.ValidateReadableTopic(spec.Topic);
        Validation.ValidateQueue(spec.Queue);
        if (spec.Durable is { } durable)
        {
            ValidateDurable(spec.Queue, durable);
        }
        if (spec.MaxPending < 1 || spec.MaxPending > _maxPendingLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(spec), spec.MaxPending,
                $"{nameof(SubscribeOptions.MaxPending)} must be between 1 and the silo's limit, {_maxPendingLimit}.");
        }

        if (Spec is not null && _ending is null && DateTime.UtcNow <= _leaseEnds && !Equals(state.State.Observer, observer))
        {
            throw new InvalidOperationException($"Subscription {Id} is bound to another client.");
        }
    }

    /// <summary>A batch a topic could have sent: one silo's stream, no null in it. Anything else is refused unread.</summary>
    private static bool IsPlausible(DeliveryBatch batch) =>
        batch is { Topic: not null, Messages: not null }
        && StreamNumbers.IsPlausible(batch.Stream, DateTime.UtcNow)
        && batch.Sequence >= 0
        && Array.TrueForAll(batch.Messages, m => m is not null);

    private void StartLease()
    {
        _leaseEnds = DateTime.UtcNow + _lease;
        _leaseTimer ??= this.RegisterGrainTimer(CheckLeaseAsync, new GrainTimerCreationOptions(_lease / 2, _lease / 2) { Interleave = true });
    }

    private Task CheckLeaseAsync(CancellationToken cancellationToken)
    {
        if (Spec is not null && _ending is null && DateTime.UtcNow > _leaseEnds)
        {
            LogInformationLeaseExpired(logger, Id, Spec.Topic);
            return EndAsync([]);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Leaves the topic, hands back what was never delivered, forgets the subscription and
    /// deactivates; concurrent callers share one ending (a later caller's messages are handed back too).
    /// </summary>
    private Task EndAsync(Message[] unbegun)
    {
        if (_ending is not null)
        {
            if (unbegun.Length > 0 && _endingSpec is { } leaving)
            {
                _ = HandBackAsync(leaving, unbegun);
            }

            return _ending;
        }

        return _ending = EndOnceAsync(unbegun);
    }

    /// <summary>
    /// Never throws: a topic or a store that cannot be reached must not leave a half-ended grain
    /// behind (the topic takes off a subscription it still lists at its next delivery here).
    /// </summary>
    private async Task EndOnceAsync(Message[] unbegun)
    {
        _leaseTimer?.Dispose();
        _leaseTimer = null;
        _gapTimer?.Dispose();
        _gapTimer = null;
        if (Spec is { Durable: not null } member)
        {
            await LeaveDurableAsync(member);
            try
            {
                // Forgotten for good: a late call must not bring the member back from storage.
                await state.ClearStateAsync();
            }
            catch (Exception ex)
            {
                LogWarningClearFailed(logger, ex, Id);
            }
        }
        else if (Spec is { } spec)
        {
            _endingSpec = spec;
            try
            {
                await Topic(spec).Unsubscribe(Id);
            }
            catch (Exception ex)
            {
                LogWarningLeaveFailed(logger, ex, Id, spec.Topic);
            }

            // The pump stops at its next turn; what it has on its way to the client comes back or is delivered.
            if (_pump is { } pump)
            {
                await pump;
            }

            var leftovers = new List<Message>(unbegun.Length + _unaccepted.Count + _pendingCount);
            leftovers.AddRange(unbegun);
            leftovers.AddRange(_unaccepted);
            while (_pending.TryDequeue(out var waiting))
            {
                leftovers.AddRange(waiting);
            }

            ResetBuffers();
            await HandBackAsync(spec, leftovers.ToArray());
            try
            {
                await state.ClearStateAsync();
            }
            catch (Exception ex)
            {
                LogWarningClearFailed(logger, ex, Id);
            }
        }

        ResetBuffers();
        state.State = new SubscriberState();
        DeactivateOnIdle();
    }

    /// <summary>
    /// Gives messages this subscription will never deliver back to its topic, in calls no larger than
    /// a publish: the rest of its queue group takes them, or the topic counts them as dropped.
    /// </summary>
    private async Task HandBackAsync(SubscriptionSpec spec, Message[] messages)
    {
        for (var start = 0; start < messages.Length;)
        {
            var end = start;
            long bytes = 0;
            while (end < messages.Length && end - start < TopicBatcher.MaxBatchMessages
                && (end == start || bytes + messages[end].SizeInBytes() <= TopicBatcher.MaxBatchBytes))
            {
                bytes += messages[end++].SizeInBytes();
            }

            try
            {
                await Topic(spec).HandBack(Id, spec.Queue, messages[start..end].AsImmutable());
            }
            catch (Exception ex)
            {
                LogWarningHandBackFailed(logger, ex, Id, end - start);
            }

            start = end;
        }
    }

    private void ResetBuffers()
    {
        ClearDurableQueue();
        _pending.Clear();
        _pendingCount = 0;
        _pendingBytes = 0;
        _inFlight = null;
        _inFlightTags = null;
        _inFlightBytes = 0;
        _unaccepted.Clear();
    }

    [LoggerMessage(30, LogLevel.Information, "Subscription {Id} of topic '{Topic}': its lease lapsed; removed")]
    private static partial void LogInformationLeaseExpired(ILogger logger, string id, string topic);

    [LoggerMessage(31, LogLevel.Information, "Subscription {Id} of topic '{Topic}': its client is gone; removed")]
    private static partial void LogInformationClientGone(ILogger logger, string id, string? topic);

    [LoggerMessage(34, LogLevel.Warning, "Subscription {Id} of topic '{Topic}': leaving the topic failed; it takes the subscription off at its next delivery")]
    private static partial void LogWarningLeaveFailed(ILogger logger, Exception exception, string id, string topic);

    [LoggerMessage(35, LogLevel.Warning, "Subscription {Id}: clearing its stored state failed")]
    private static partial void LogWarningClearFailed(ILogger logger, Exception exception, string id);

    [LoggerMessage(36, LogLevel.Warning, "Subscription {Id}: handing {Count} undelivered message(s) back to the topic failed; they are lost")]
    private static partial void LogWarningHandBackFailed(ILogger logger, Exception exception, string id, int count);

    [LoggerMessage(37, LogLevel.Warning, "Subscription {Id}: discarded {Count} message(s) that came after their gap was given up on, or from an older stream; counted as dropped")]
    private static partial void LogWarningDiscarded(ILogger logger, string id, long count);

    [LoggerMessage(47, LogLevel.Warning, "Subscription {Id}: {Count} message(s) the topic sent never arrived (the gap they left was given up on after {Timeout}); counted as dropped")]
    private static partial void LogWarningLostOnTheWay(ILogger logger, string id, long count, TimeSpan timeout);

    [LoggerMessage(38, LogLevel.Warning, "Subscription {Id}: the silo shut down before {Count} message(s) reached the client; counted as dropped")]
    private static partial void LogWarningShutdownDropped(ILogger logger, string id, int count);

    [LoggerMessage(33, LogLevel.Warning, "Subscription {Id}: refused a batch no topic could have sent (bad stream number or null messages)")]
    private static partial void LogWarningImplausibleBatch(ILogger logger, string id);

    [LoggerMessage(39, LogLevel.Debug, "Subscription {Id}: delivery {Number} to the client not answered within {Wait}; sending it again")]
    private static partial void LogDebugResending(ILogger logger, string id, long number, TimeSpan wait);

    [LoggerMessage(40, LogLevel.Debug, "Subscription {Id}: delivery {Number} to the client failed on the way ({Reason}); sending it again")]
    private static partial void LogDebugResendingAfterFailure(ILogger logger, string id, long number, string reason);

    [LoggerMessage(41, LogLevel.Information, "Subscription {Id}: deactivating because its directory registration was lost (the client's answers would go to its next activation); {Count} message(s), in flight or buffered, sent to the client as one-way calls")]
    private static partial void LogInformationSentWithoutAnswersDirectoryLost(ILogger logger, string id, int count);

    [LoggerMessage(46, LogLevel.Information, "Subscription {Id}: deactivating ({Reason}) and the client did not answer within {Wait} (while a silo stops, the directory may route its answers to another activation); {Count} message(s), in flight or buffered, sent to the client as one-way calls")]
    private static partial void LogInformationSentWithoutAnswersUnanswered(ILogger logger, string id, DeactivationReasonCode reason, TimeSpan wait, int count);

    [LoggerMessage(42, LogLevel.Debug, "Subscription {Id}: activated as sender {Sender}, numbering after {Sent} with {SentMessages} message(s) counted; handed over: stream {Stream}, next batch {Next} (none: it asks its topic for a new stream)")]
    private static partial void LogDebugActivated(ILogger logger, string id, long sender, long sent, long sentMessages, long? stream, long? next);

    [LoggerMessage(43, LogLevel.Debug, "Subscription {Id}: sender {Sender} deactivating ({Reason}); delivery {Sent} numbered last, {SentMessages} message(s) counted, {InFlight} waiting for its answer, {Pending} message(s) buffered; stream {Stream} at batch {Next}")]
    private static partial void LogDebugDeactivating(ILogger logger, string id, long sender, DeactivationReasonCode reason, long sent, long sentMessages, long? inFlight, int pending, long stream, long next);

    [LoggerMessage(32, LogLevel.Warning, "Subscription {Id}: delivering {Count} message(s) to the client failed; they are lost")]
    private static partial void LogWarningDeliveryFailed(ILogger logger, Exception exception, string id, int count);
}
