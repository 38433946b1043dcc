using OrleansBroker.Internal;
using OrleansBroker.Grains;

namespace OrleansBroker.Subscriptions;

/// <summary>
/// A subscription of a <see cref="ClusterBroker"/>, and the observer its SubscriberGrain calls.
/// The broker holds it strongly for its whole life, because Orleans holds observers only weakly.
/// A member of a durable subscription gets each message with its delivery tag, and sends its acks
/// and naks, coalesced, straight to the durable grain.
/// </summary>
internal sealed class ClusterSubscription : ISubscriber, IMessageObserver
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
    private readonly DeliveryWindow _deliveries = new();
    private (long Sender, long Sequence, Task<bool> Outcome) _latest = (0, 0, Task.FromResult(true));
    private int _ended;
    private readonly DurableAckBuffer? _acks;

    // Attached once: attaching again (the silo lost the subscription) must not bring back a deleted durable subscription.
    private bool _attached;

    public ClusterSubscription(ClusterBroker broker, IClusterClient client, string topic, MessageHandler handler,
        SubscribeOptions options, Microsoft.Extensions.Logging.ILogger logger)
    {
        _broker = broker;
        _grains = client;
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
    /// A batch from the SubscriberGrain. Orleans runs one observer call at a time, so a copy sent
    /// again (its answer was late) is seen only after the original was queued, and is skipped.
    /// </summary>
    public Task<bool> OnMessages(long sender, long sequence, Immutable<Message[]> messages) =>
        Take(sender, sequence, messages.Value, tags: null);

    public Task OnMessagesWithoutAnswer(long sender, long sequence, Immutable<Message[]> messages) =>
        OnMessages(sender, sequence, messages);

    /// <summary>A durable member's batch: as <see cref="OnMessages"/>, each message with its delivery tag.</summary>
    public Task<bool> OnDurableMessages(long sender, long sequence, Immutable<Message[]> messages, DeliveryTag[] tags) =>
        tags is null || messages.Value is null || tags.Length != messages.Value.Length
            ? Task.FromResult(true)
            : Take(sender, sequence, messages.Value, tags);

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

    private Task<bool> Take(long sender, long sequence, Message[] messages, DeliveryTag[]? tags)
    {
        lock (_deliveries)
        {
            if (_deliveries.TryTake(sender, sequence))
            {
                var outcome = Dispatcher.PostAsync(messages, tags).AsTask();
                _latest = (sender, sequence, outcome);
                return outcome;
            }

            // A copy of the newest batch, sent because its answer was late: it gets the original's
            // answer (false if the subscription ended before the handler's queue took it). Older copies were answered long ago.
            return _latest.Sender == sender && _latest.Sequence == sequence ? _latest.Outcome : Task.FromResult(true);
        }
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
}
