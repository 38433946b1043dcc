using Microsoft.Extensions.Logging;
using OrleansBroker.Internal;
using OrleansBroker.Grains;

namespace OrleansBroker.Subscriptions;

/// <summary>
/// A subscription of a <see cref="ClusterBroker"/>, and the observer its SubscriberGrain calls.
/// The broker holds it strongly for its whole life, because Orleans holds observers only weakly.
/// A member of a durable subscription gets each message with its delivery tag, and sends its acks
/// and naks, coalesced, straight to the durable grain.
/// </summary>
internal sealed partial class ClusterSubscription : ISubscriber, IMessageObserver
{
    // Batches waiting for the handler on the client; past this the observer call waits, which
    // keeps the rest buffered (and bounded by MaxPending) in the SubscriberGrain.
    private const int ClientBatchCapacity = 4;

    private readonly ClusterBroker _broker;
    private readonly IGrainFactory _grains;
    private readonly ISubscriberGrain _grain;
    private readonly IMessageObserver _reference;

    // Attaching and ending take turns: a renewal that re-attaches can never run after the ending
    // has detached, so it cannot bring an unsubscribed subscription back.
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly DeliveryWindow<Delivery> _deliveries;
    private readonly List<Delivery> _ready = [];
    private (long Sender, long Sequence, Task<bool> Outcome) _latest = (0, 0, Task.FromResult(true));

    // Every delivery the window releases goes to the handler's queue behind the one released before it, whether
    // an observer call or the gap timer released it, and however long the queue makes either wait for room.
    private Task _posted = Task.CompletedTask;

    // Deliveries answered while held that the handler's queue refused (it closed): handed back with the rest.
    private readonly List<Message> _refused = [];
    private bool _closingGaps;
    private bool _unsubscribing;
    private int _ended;
    private readonly DurableAckBuffer? _acks;
    private readonly ILogger _logger;

    // Attached once: attaching again (the silo lost the subscription) must not bring back a deleted durable subscription.
    private bool _attached;

    public ClusterSubscription(ClusterBroker broker, IClusterClient client, string topic, MessageHandler handler,
        SubscribeOptions options, ILogger logger)
    {
        _broker = broker;
        _grains = client;
        _logger = logger;
        _deliveries = new DeliveryWindow<Delivery>(options.MaxPending);
        Id = Guid.NewGuid().ToString("N");
        Topic = topic;
        Options = options;
        if (options.Durable)
        {
            _acks = new DurableAckBuffer(client.GetGrain<IDurableGrain>(DurableKey.Of(topic, options.Queue!)), Id, logger);
        }

        Dispatcher = new HandlerDispatcher(topic, _acks is null ? handler : Receiving(handler, _acks), broker.Options, options, logger, ClientBatchCapacity, _acks);
        _grain = client.GetGrain<ISubscriberGrain>(Id);
        _reference = client.CreateObjectReference<IMessageObserver>(this);
    }

    public string Id { get; }

    /// <summary>The user's handler, after telling the durable grain that it began the message: its AckWait runs from now.</summary>
    private static MessageHandler Receiving(MessageHandler handler, DurableAckBuffer acks) => (evt, cancellationToken) =>
    {
        if (evt is BrokerEvent { Tag: { } tag })
        {
            acks.Begin(tag);
        }

        return handler(evt, cancellationToken);
    };

    public string Topic { get; }

    public SubscribeOptions Options { get; }

    public HandlerDispatcher Dispatcher { get; }

    /// <summary>The lease the silo granted; renew well inside it.</summary>
    public TimeSpan Lease { get; private set; }

    public bool IsEnded => Volatile.Read(ref _ended) != 0;

    /// <summary>When the lease was last granted or renewed.</summary>
    public DateTime RenewedAt { get; private set; }

    /// <summary>
    /// How long one renewal may take before it counts as failed: under a third of the lease, so a
    /// slow silo costs a retry, never the lease.
    /// </summary>
    public TimeSpan RenewTimeout => Lease / 4;

    private int _renewing;
    private int _failedRenewals;
    private DateTime _retryAt;

    /// <summary>
    /// Claims the next renewal when one is due: a third of the lease has passed since the last one
    /// (or a failed one's backoff has), and none is in flight. Each subscription renews on its own,
    /// so one slow or dead silo delays none of the others.
    /// </summary>
    public bool TryBeginRenewal(DateTime now) =>
        !IsEnded && Lease > TimeSpan.Zero && now - RenewedAt >= Lease / 3 && now >= _retryAt
        && Interlocked.CompareExchange(ref _renewing, 1, 0) == 0;

    /// <summary>Ends the claimed renewal; a failed one is retried after a backoff with jitter (doubling from 100 ms, at most a sixth of the lease).</summary>
    public void EndRenewal(bool renewed, DateTime now)
    {
        if (renewed)
        {
            _failedRenewals = 0;
            _retryAt = default;
        }
        else
        {
            var backoff = Math.Min(100 * Math.Pow(2, Math.Min(_failedRenewals++, 10)), Lease.TotalMilliseconds / 6);
            _retryAt = now + TimeSpan.FromMilliseconds(backoff * (0.5 + Random.Shared.NextDouble()));
        }

        Volatile.Write(ref _renewing, 0);
    }

    /// <summary>
    /// A batch from the SubscriberGrain, taken in its sender's order. Orleans runs one observer call at a time, so
    /// a copy sent again (its answer was late) is seen only after the original was taken or held, and is skipped.
    /// <paramref name="sentBefore"/> counts what its sender sent before it, for counting a gap given up on.
    /// </summary>
    public Task<bool> OnMessages(long sender, long sequence, long sentBefore, Immutable<Message[]> messages) =>
        Take(sender, sequence, sentBefore, messages.Value, tags: null);

    public Task OnMessagesWithoutAnswer(long sender, long sequence, long sentBefore, Immutable<Message[]> messages) =>
        OnMessages(sender, sequence, sentBefore, messages);

    /// <summary>A durable member's batch: as <see cref="OnMessages"/>, each message with its delivery tag.</summary>
    public Task<bool> OnDurableMessages(long sender, long sequence, Immutable<Message[]> messages, DeliveryTag[] tags) =>
        tags is null || messages.Value is null || tags.Length != messages.Value.Length
            ? Task.FromResult(true)
            : Take(sender, sequence, sentBefore: null, messages.Value, tags);

    public Task OnDurableMessagesWithoutAnswer(long sender, long sequence, Immutable<Message[]> messages, DeliveryTag[] tags) =>
        OnDurableMessages(sender, sequence, messages, tags);

    /// <summary>The durable subscription was deleted: this member ends here too (the silo has ended it there).</summary>
    public Task OnEnded()
    {
        _ = EndedByBrokerAsync();
        return Task.CompletedTask;
    }

    private async Task EndedByBrokerAsync()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        await Dispatcher.CloseAsync().ConfigureAwait(false);
        _broker.Forget(this);
        _grains.DeleteObjectReference<IMessageObserver>(_reference);
    }

    /// <summary>
    /// Puts the delivery in its sender's order. One that arrives ahead of its turn is held and answered at once:
    /// Orleans runs the observer's calls one at a time, each after the one before has returned, so the call that
    /// fills the gap runs only after this one has answered.
    /// </summary>
    private Task<bool> Take(long sender, long sequence, long? sentBefore, Message[] messages, DeliveryTag[]? tags)
    {
        lock (_deliveries)
        {
            if (_unsubscribing)
            {
                // What was held is being handed back already: a new delivery is refused, and the grain hands it back.
                return _deliveries.IsCopy(sender, sequence) ? CopyAnswer(sender, sequence) : Task.FromResult(false);
            }

            _ready.Clear();
            var arrival = _deliveries.Take(sender, sequence, sentBefore, new Delivery(messages, tags), messages.Length, DateTime.UtcNow, _ready);
            ReportGivenUp();
            var answer = arrival switch
            {
                Arrival.Taken => Post(_ready, ownFirst: true),
                Arrival.Copy => CopyAnswer(sender, sequence),
                _ => Task.FromResult(true),
            };

            if (arrival == Arrival.Taken)
            {
                _latest = (sender, sequence, answer);
            }
            else if (_ready.Count > 0)
            {
                // Released without this delivery: a gap given up on (over the bound), or a forgotten sender's.
                Post(_ready, ownFirst: false);
            }

            if (arrival == Arrival.Late)
            {
                LogLate(sender, sequence, messages, tags);
            }

            CloseGapsLater();
            return answer;
        }
    }

    /// <summary>
    /// A copy of the newest delivery taken, sent because its answer was late, gets the original's answer (false
    /// if the subscription ended before the handler's queue took it). Older copies, and copies of held ones, were answered already.
    /// </summary>
    private Task<bool> CopyAnswer(long sender, long sequence) =>
        _latest.Sender == sender && _latest.Sequence == sequence ? _latest.Outcome : Task.FromResult(true);

    /// <summary>
    /// Queues released deliveries for the handler, behind everything released before them. With
    /// <paramref name="ownFirst"/> the first is the calling delivery's own: the task says whether the handler's
    /// queue took it. The others were answered while held: what a closed queue refuses of them is handed back on unsubscribe.
    /// </summary>
    private Task<bool> Post(List<Delivery> ready, bool ownFirst)
    {
        if (ownFirst && ready.Count == 1 && _posted.IsCompleted)
        {
            // The usual case: nothing was held, and nothing released before still waits for room.
            var outcome = Dispatcher.PostAsync(ready[0].Messages, ready[0].Tags).AsTask();
            _posted = outcome;
            return outcome;
        }

        var chained = PostAfterAsync(_posted, ready.ToArray(), ownFirst);
        _posted = chained;
        return chained;
    }

    private async Task<bool> PostAfterAsync(Task before, Delivery[] deliveries, bool ownFirst)
    {
        await before.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var taken = true;
        for (var i = 0; i < deliveries.Length; i++)
        {
            var (messages, tags) = deliveries[i];
            if (await Dispatcher.PostAsync(messages, tags).ConfigureAwait(false))
            {
                continue;
            }

            if (ownFirst && i == 0)
            {
                taken = false;
            }
            else if (tags is null)
            {
                // A durable member's messages need no handing back: its leaving gives the durable grain back all it has out.
                lock (_deliveries)
                {
                    _refused.AddRange(messages);
                }
            }
        }

        return taken;
    }

    /// <summary>While a gap is open, gives it up when its time is up, even when no more deliveries come to trigger it.</summary>
    private void CloseGapsLater()
    {
        if (!_closingGaps && _deliveries.HasGap)
        {
            _closingGaps = true;
            _ = CloseGapsAsync();
        }
    }

    private async Task CloseGapsAsync()
    {
        while (true)
        {
            DateTime? deadline;
            lock (_deliveries)
            {
                deadline = _deliveries.GapDeadline;
                if (deadline is null || _unsubscribing)
                {
                    _closingGaps = false;
                    return;
                }
            }

            await UntilAsync(deadline.Value).ConfigureAwait(false);
            FlushGaps();
        }
    }

    private static Task UntilAsync(DateTime deadline) =>
        deadline - DateTime.UtcNow is var wait && wait > TimeSpan.Zero ? Task.Delay(wait) : Task.CompletedTask;

    /// <summary>Gives up on the gaps whose time is up: counts them, and queues what waited behind them.</summary>
    private void FlushGaps()
    {
        lock (_deliveries)
        {
            _ready.Clear();
            _deliveries.Flush(DateTime.UtcNow, _ready);
            ReportGivenUp();
            if (_ready.Count > 0 && !_unsubscribing)
            {
                Post(_ready, ownFirst: false);
            }
        }
    }

    /// <summary>
    /// A gap still open when the subscription ends may be a delivery on its way: waits for it, or until it is given
    /// up on and counted, so what never comes is counted and what comes is handed back with the rest. Gaps are
    /// rare; this waits at most about <see cref="DeliveryWindow{T}.GapTimeout"/> (a gap opened meanwhile is not waited for).
    /// </summary>
    private async Task CloseGapsBeforeEndingAsync()
    {
        var latest = DateTime.UtcNow + DeliveryWindow<Delivery>.GapTimeout;
        while (DateTime.UtcNow < latest)
        {
            DateTime? deadline;
            lock (_deliveries)
            {
                deadline = _deliveries.GapDeadline;
            }

            if (deadline is null)
            {
                return;
            }

            await UntilAsync(deadline.Value).ConfigureAwait(false);
            FlushGaps();
        }
    }

    /// <summary>
    /// Logs each gap given up on. A plain subscription's gap is counted with the topic's drops here, once: its
    /// deliveries carry their sender's running count, so the messages it held are known even when the deliveries
    /// never come (a one-way call lost on the way). A durable member's stay unacked, and come back after AckWait.
    /// </summary>
    private void ReportGivenUp()
    {
        foreach (var (sender, from, to, messages) in _deliveries.GivenUp)
        {
            if (messages is not { } count)
            {
                LogWarningDurableGapGivenUp(_logger, Topic, Id, from, to, sender);
                continue;
            }

            LogWarningGapGivenUp(_logger, Topic, Id, from, to, sender, count);
            if (count > 0)
            {
                _ = CountDroppedAsync(count);
            }
        }

        _deliveries.GivenUp.Clear();
    }

    private async Task CountDroppedAsync(long count)
    {
        try
        {
            await _grains.GetGrain<ITopicGrain>(Topic).AddDropped(count).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogWarningCountFailed(_logger, ex, Topic, count);
        }
    }

    /// <summary>
    /// A delivery of a gap given up on: what came after it has gone to the handler, so delivering it now would
    /// break the order. A plain subscription's messages were counted as dropped when the gap was given up on; a
    /// durable member's stay unacked, and the durable grain sends them again after AckWait.
    /// </summary>
    private void LogLate(long sender, long sequence, Message[] messages, DeliveryTag[]? tags)
    {
        if (tags is not null)
        {
            LogInformationLateDurable(_logger, Topic, Id, sequence, sender, messages.Length);
            return;
        }

        LogInformationLate(_logger, Topic, Id, sequence, sender, messages.Length);
    }

    /// <summary>
    /// Ends the taking of deliveries: returns what was held for a gap and what the closed handler's queue
    /// refused of deliveries answered already, in order, to hand back with the messages the handler never began.
    /// </summary>
    private async Task<Message[]> TakeHeldBackAsync()
    {
        await CloseGapsBeforeEndingAsync().ConfigureAwait(false);
        Task posted;
        var heldBack = new List<Message>();
        lock (_deliveries)
        {
            _unsubscribing = true;
            foreach (var (messages, tags) in _deliveries.TakeHeld())
            {
                if (tags is null)
                {
                    heldBack.AddRange(messages);
                }
            }

            posted = _posted;
        }

        // The queue is closed: whatever is still being posted is refused at once.
        await posted.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lock (_deliveries)
        {
            heldBack.InsertRange(0, _refused);
            _refused.Clear();
        }

        return heldBack.ToArray();
    }

    /// <summary>
    /// Binds the SubscriberGrain to this observer and joins the topic (or the durable subscription).
    /// False: the durable subscription it had is gone (deleted), so this subscription has ended.
    /// </summary>
    public async Task<bool> AttachAsync()
    {
        var now = DateTime.UtcNow;
        var durable = Options.Durable ? DurableSettings.From(Options) : null;
        var lease = await _grain.Attach(new SubscriptionSpec(Topic, Options.Queue, Options.MaxPending, durable, Rejoin: _attached), _reference).ConfigureAwait(false);
        if (lease <= TimeSpan.Zero)
        {
            return false;
        }

        Lease = lease;
        RenewedAt = now;
        _attached = true;
        return true;
    }

    /// <summary>Extends the lease, re-attaching when the silo has lost the subscription (never once it has ended).</summary>
    public async Task RenewAsync()
    {
        if (IsEnded)
        {
            return;
        }

        var now = DateTime.UtcNow;
        if (await _grain.Renew().ConfigureAwait(false))
        {
            RenewedAt = now;
            return;
        }

        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (!IsEnded && !await AttachAsync().ConfigureAwait(false))
            {
                _ = EndedByBrokerAsync();
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Stops the handler (waiting for a call in progress), then detaches the grain, handing back what
    /// the handler never began so the rest of a queue group takes it.
    /// </summary>
    public async Task UnsubscribeAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            await Dispatcher.CloseAsync().ConfigureAwait(false);
            return;
        }

        var unbegun = await Dispatcher.CloseAsync().ConfigureAwait(false);
        unbegun = [.. unbegun, .. await TakeHeldBackAsync().ConfigureAwait(false)];
        if (_acks is not null)
        {
            // What the handler settled counts before the member leaves (its unacked messages then go to the others).
            await _acks.FlushAsync().ConfigureAwait(false);
            unbegun = [];
        }

        _broker.Forget(this);
        await _lifecycle.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await _grain.Detach(unbegun.AsImmutable()).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new BrokerException(BrokerErrorCode.Unavailable,
                $"Unsubscribing from topic '{Topic}' did not reach the cluster: {ErrorText.FirstLine(ex)}; its lease will end it.", ex);
        }
        finally
        {
            _lifecycle.Release();
            _grains.DeleteObjectReference<IMessageObserver>(_reference);
        }
    }

    public ValueTask DisposeAsync() => new(UnsubscribeAsync());

    [LoggerMessage(30, LogLevel.Warning, "Subscription {Id} of topic '{Topic}': deliveries {From}-{To} of sender {Sender} did not arrive in time; what came after them goes to the handler without them, and the {Count} message(s) they held (by the sender's running count, less any the silo counted itself) are counted as dropped")]
    private static partial void LogWarningGapGivenUp(ILogger logger, string topic, string id, long from, long to, long sender, long count);

    [LoggerMessage(31, LogLevel.Information, "Subscription {Id} of topic '{Topic}': delivery {Sequence} of sender {Sender} arrived after its gap was given up on; its {Count} message(s) were counted as dropped then, and are not delivered")]
    private static partial void LogInformationLate(ILogger logger, string topic, string id, long sequence, long sender, int count);

    [LoggerMessage(34, LogLevel.Warning, "Subscription {Id} of topic '{Topic}': durable deliveries {From}-{To} of sender {Sender} did not arrive in time; what came after them goes to the handler without them (their messages come back after AckWait)")]
    private static partial void LogWarningDurableGapGivenUp(ILogger logger, string topic, string id, long from, long to, long sender);

    [LoggerMessage(32, LogLevel.Information, "Subscription {Id} of topic '{Topic}': durable delivery {Sequence} of sender {Sender} arrived after its gap was given up on; its {Count} message(s) come back after AckWait")]
    private static partial void LogInformationLateDurable(ILogger logger, string topic, string id, long sequence, long sender, int count);

    [LoggerMessage(33, LogLevel.Warning, "Topic '{Topic}': counting {Count} dropped message(s) failed")]
    private static partial void LogWarningCountFailed(ILogger logger, Exception exception, string topic, long count);

    /// <summary>One delivery's messages, with their durable tags when the subscription is durable.</summary>
    private readonly record struct Delivery(Message[] Messages, DeliveryTag[]? Tags);
}
