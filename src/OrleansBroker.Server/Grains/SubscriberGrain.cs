using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Grains;
using OrleansBroker.Internal;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// One subscription. Takes batches from its topic without ever making it wait, holds at most
/// MaxPending messages (dropping and counting the rest), and pumps them to the client's observer
/// one call at a time, merging whatever queued meanwhile into the next call. Reentrant so that
/// new batches are taken while a delivery is in flight; every turn runs on the grain's one thread.
/// </summary>
[Reentrant]
[GrainType(BrokerGrainTypes.Subscriber)]
internal sealed partial class SubscriberGrain(
    [PersistentState("subscription", BrokerSiloOptions.StorageName)] IPersistentState<SubscriberState> state,
    IOptions<BrokerSiloOptions> options,
    ILogger<SubscriberGrain> logger) : Grain, ISubscriberGrain
{
    internal const int MaxDeliveryMessages = 4096;

    /// <summary>
    /// A delivery whose answer has not come back after this long is sent again (then after twice as
    /// long, up to <see cref="MaxResendAfter"/>). Orleans would wait its whole response timeout (30 s)
    /// for an answer lost with a gateway that died; a client that is only busy takes the copy as a no-op.
    /// </summary>
    internal static readonly TimeSpan ResendAfter = TimeSpan.FromSeconds(2);
    internal static readonly TimeSpan MaxResendAfter = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetryAfterRejection = TimeSpan.FromMilliseconds(200);

    private readonly TimeSpan _lease = options.Value.SubscriptionLease;
    private readonly SequenceGate _gate = new();
    private readonly List<DeliveryBatch> _ready = [];
    private readonly Queue<Message[]> _pending = new();
    private int _pendingCount;
    private Task? _pump;
    private DateTime _leaseEnds;
    private IGrainTimer? _leaseTimer;
    private IGrainTimer? _gapTimer;
    private Task? _ending;
    private long _restartAsked;

    // Names this activation's numbering of deliveries to the client, which takes each number once.
    private readonly long _sender = Random.Shared.NextInt64(1, long.MaxValue);
    private long _sent;
    private bool _stopPump;
    private (long Number, Message[] Batch)? _inFlight;

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
        if (state.State.Handover is { } position)
        {
            // A graceful handover: carry on the same stream (batches in flight belong to it).
            _gate.Restore(position);
            state.State.Handover = null;
            await state.WriteStateAsync();
        }
        else
        {
            // After a crash the place in the topic's stream is lost: ask the topic for a new stream.
            await Topic(spec).Subscribe(Id, spec.Queue, restartStream: true);
        }
    }

    public async Task<TimeSpan> Attach(SubscriptionSpec spec, IMessageObserver observer)
    {
        state.State.Spec = spec;
        state.State.Observer = observer;
        _ending = null;
        StartLease();
        await state.WriteStateAsync();

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

        // The topic may have lost this subscription (its silo died, and its storage with it):
        // re-joining is idempotent and costs the topic nothing when it still knows us.
        await Topic(spec).Subscribe(Id, spec.Queue, _gate.Stream);
        return true;
    }

    public Task Detach() => EndAsync();

    public Task Deliver(DeliveryBatch batch)
    {
        if (Spec is null || _ending is not null)
        {
            // The topic still lists a subscription this grain no longer holds: take it off.
            return _ending ?? GrainFactory.GetGrain<ITopicGrain>(batch.Topic).Unsubscribe(Id);
        }

        if (DateTime.UtcNow > _leaseEnds)
        {
            LogInformationLeaseExpired(logger, Id, Spec.Topic);
            return EndAsync();
        }

        _ready.Clear();
        if (!_gate.Accept(batch, _ready, DateTime.UtcNow) && _restartAsked < _gate.Stream)
        {
            // The topic sends an older stream than one seen here (it came back on a silo whose
            // clock is behind): ask it, once per stream, for a new one.
            _restartAsked = _gate.Stream;
            _ = Topic(Spec).Subscribe(Id, Spec.Queue, _gate.Stream, restartStream: true);
        }

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
        if (Spec is not null)
        {
            _ready.Clear();
            _gate.Flush(_ready, DateTime.UtcNow);
            EnqueueReady();
        }

        if (!_gate.HasGap)
        {
            _gapTimer?.Dispose();
            _gapTimer = null;
        }

        return Task.CompletedTask;
    }

    /// <summary>Queues the batches the gate released and makes sure the pump runs.</summary>
    private void EnqueueReady()
    {
        if (Spec is not { } spec)
        {
            return;
        }

        long dropped = 0;
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

            dropped += Enqueue(ready.Messages, spec.MaxPending);
        }

        if (dropped > 0)
        {
            _ = Topic(spec).AddDropped(dropped);
        }

        if (_pump is null && _pending.Count > 0)
        {
            _pump = PumpAsync();
        }
    }

    /// <summary>Queues what fits under <paramref name="maxPending"/>; returns how many messages did not.</summary>
    private long Enqueue(Message[] messages, int maxPending)
    {
        var room = maxPending - _pendingCount;
        if (room <= 0)
        {
            return messages.Length;
        }

        var taken = messages.Length <= room ? messages : messages[..room];
        _pending.Enqueue(taken);
        _pendingCount += taken.Length;
        return messages.Length - taken.Length;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (reason.ReasonCode == DeactivationReasonCode.DirectoryFailure)
        {
            // The silo that held this grain's directory registration is leaving, and the grain's next
            // activation may be running already. The client's answers are routed through the directory,
            // so they would go there: deliver what is buffered without waiting for answers.
            SendBufferedWithoutAnswers();
        }
        else
        {
            // Idle collection or a silo shutting down: hand over what is buffered rather than drop it.
            if (_pump is null && _pending.Count > 0)
            {
                _pump = PumpAsync();
            }

            // While a silo stops, the directory may stop naming this activation before it is done (when the
            // stopping silo held its registration), and then answers go elsewhere: past one resend
            // interval without them, what is left goes out without waiting for answers.
            if (_pump is { } pump)
            {
                await pump.WaitAsync(ResendAfter, cancellationToken).ContinueWith(_ => { }, CancellationToken.None);
                if (!pump.IsCompleted)
                {
                    SendBufferedWithoutAnswers();
                }

                _stopPump = true;
            }
        }

        if (Spec is not null && _ending is null && !cancellationToken.IsCancellationRequested)
        {
            state.State.Handover = _gate.Position;
            await state.WriteStateAsync();
        }
    }

    private async Task PumpAsync()
    {
        await Task.Yield();
        try
        {
            while (_pending.Count > 0 && !_stopPump && state.State.Observer is { } observer)
            {
                if (!await DeliverToClientAsync(observer, ++_sent, TakeBatch()))
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
    private async Task<bool> DeliverToClientAsync(IMessageObserver observer, long number, Message[] batch)
    {
        var wait = ResendAfter;
        while (true)
        {
            _inFlight = (number, batch);
            var call = observer.OnMessages(_sender, number, batch.AsImmutable());
            try
            {
                await call.WaitAsync(wait);
                _inFlight = null;
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
                _inFlight = null;
                LogInformationClientGone(logger, Id, Spec?.Topic);
                await EndAsync();
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
                LogWarningDeliveryFailed(logger, ex, Id, batch.Length);
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
    /// Stops the pump and sends the delivery still waiting for its answer (under its number: the client
    /// takes it once) and everything buffered, in order, as one-way calls.
    /// </summary>
    private void SendBufferedWithoutAnswers()
    {
        _stopPump = true;
        if (state.State.Observer is not { } observer || _ending is not null)
        {
            return;
        }

        var sent = 0;
        if (_inFlight is { } inFlight)
        {
            _ = observer.OnMessagesWithoutAnswer(_sender, inFlight.Number, inFlight.Batch.AsImmutable());
            sent += inFlight.Batch.Length;
            _inFlight = null;
        }

        while (_pending.Count > 0)
        {
            var batch = TakeBatch();
            _ = observer.OnMessagesWithoutAnswer(_sender, ++_sent, batch.AsImmutable());
            sent += batch.Length;
        }

        if (sent > 0)
        {
            LogInformationSentWithoutAnswers(logger, Id, sent);
        }
    }

    /// <summary>Everything waiting, merged into one delivery of at most <see cref="MaxDeliveryMessages"/>.</summary>
    private Message[] TakeBatch()
    {
        var first = _pending.Peek();
        if (_pending.Count == 1 || first.Length >= MaxDeliveryMessages)
        {
            _pending.Dequeue();
            _pendingCount -= first.Length;
            return first;
        }

        var merged = new List<Message>(Math.Min(_pendingCount, MaxDeliveryMessages));
        while (_pending.TryPeek(out var next) && merged.Count + next.Length <= MaxDeliveryMessages)
        {
            merged.AddRange(_pending.Dequeue());
        }

        _pendingCount -= merged.Count;
        return merged.ToArray();
    }

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
            return EndAsync();
        }

        return Task.CompletedTask;
    }

    /// <summary>Leaves the topic, forgets the subscription and deactivates; concurrent callers share one ending.</summary>
    private Task EndAsync() => _ending ??= EndOnceAsync();

    private async Task EndOnceAsync()
    {
        _pending.Clear();
        _pendingCount = 0;
        _leaseTimer?.Dispose();
        _leaseTimer = null;
        _gapTimer?.Dispose();
        _gapTimer = null;
        if (Spec is { } spec)
        {
            await Topic(spec).Unsubscribe(Id);
            await state.ClearStateAsync();
        }

        state.State = new SubscriberState();
        DeactivateOnIdle();
    }

    [LoggerMessage(30, LogLevel.Information, "Subscription {Id} of topic '{Topic}': its lease lapsed; removed")]
    private static partial void LogInformationLeaseExpired(ILogger logger, string id, string topic);

    [LoggerMessage(31, LogLevel.Information, "Subscription {Id} of topic '{Topic}': its client is gone; removed")]
    private static partial void LogInformationClientGone(ILogger logger, string id, string? topic);

    [LoggerMessage(33, LogLevel.Debug, "Subscription {Id}: delivery {Number} to the client not answered within {Wait}; sending it again")]
    private static partial void LogDebugResending(ILogger logger, string id, long number, TimeSpan wait);

    [LoggerMessage(34, LogLevel.Debug, "Subscription {Id}: delivery {Number} to the client failed on the way ({Reason}); sending it again")]
    private static partial void LogDebugResendingAfterFailure(ILogger logger, string id, long number, string reason);

    [LoggerMessage(35, LogLevel.Information, "Subscription {Id}: its directory registration was lost; {Count} buffered message(s) sent to the client without waiting for answers")]
    private static partial void LogInformationSentWithoutAnswers(ILogger logger, string id, int count);

    [LoggerMessage(32, LogLevel.Warning, "Subscription {Id}: delivering {Count} message(s) to the client failed; they are lost")]
    private static partial void LogWarningDeliveryFailed(ILogger logger, Exception exception, string id, int count);
}
