using OrleansBroker.Internal;
using OrleansBroker.Grains;

namespace OrleansBroker.Subscriptions;

/// <summary>
/// A subscription of a <see cref="ClusterBroker"/>, and the observer its SubscriberGrain calls.
/// The broker holds it strongly for its whole life, because Orleans holds observers only weakly.
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
    private readonly DeliveryWindow _deliveries = new();
    private int _ended;

    public ClusterSubscription(ClusterBroker broker, IClusterClient client, string topic, MessageHandler handler,
        SubscribeOptions options, Microsoft.Extensions.Logging.ILogger logger)
    {
        _broker = broker;
        _grains = client;
        Id = Guid.NewGuid().ToString("N");
        Topic = topic;
        Options = options;
        Dispatcher = new HandlerDispatcher(topic, handler, broker.Options, options, logger, ClientBatchCapacity);
        _grain = client.GetGrain<ISubscriberGrain>(Id);
        _reference = client.CreateObjectReference<IMessageObserver>(this);
    }

    public string Id { get; }

    public string Topic { get; }

    public SubscribeOptions Options { get; }

    public HandlerDispatcher Dispatcher { get; }

    /// <summary>The lease the silo granted; renew well inside it.</summary>
    public TimeSpan Lease { get; private set; }

    public bool IsEnded => Volatile.Read(ref _ended) != 0;

    /// <summary>When the lease was last granted or renewed.</summary>
    public DateTime RenewedAt { get; private set; }

    /// <summary>A third of the lease has passed since it was last renewed (and the subscription is attached).</summary>
    public bool IsRenewalDue(DateTime now) => !IsEnded && Lease > TimeSpan.Zero && now - RenewedAt >= Lease / 3;

    /// <summary>
    /// A batch from the SubscriberGrain. Orleans runs one observer call at a time, so a copy sent
    /// again (its answer was late) is seen only after the original was queued, and is skipped.
    /// </summary>
    public Task OnMessages(long sender, long sequence, Immutable<Message[]> messages) =>
        _deliveries.TryTake(sender, sequence) ? Dispatcher.PostAsync(messages.Value).AsTask() : Task.CompletedTask;

    public Task OnMessagesWithoutAnswer(long sender, long sequence, Immutable<Message[]> messages) =>
        OnMessages(sender, sequence, messages);

    /// <summary>Binds the SubscriberGrain to this observer and joins the topic.</summary>
    public async Task AttachAsync()
    {
        var now = DateTime.UtcNow;
        Lease = await _grain.Attach(new SubscriptionSpec(Topic, Options.Queue, Options.MaxPending), _reference).ConfigureAwait(false);
        RenewedAt = now;
    }

    /// <summary>Extends the lease, re-attaching when the silo has lost the subscription.</summary>
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
        }
        else if (!IsEnded)
        {
            await AttachAsync().ConfigureAwait(false);
        }
    }

    public async Task UnsubscribeAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        Dispatcher.Close();
        _broker.Forget(this);
        try
        {
            await _grain.Detach().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new BrokerException(BrokerErrorCode.Unavailable,
                $"Unsubscribing from topic '{Topic}' did not reach the cluster: {ErrorText.FirstLine(ex)}; its lease will end it.", ex);
        }
        finally
        {
            _grains.DeleteObjectReference<IMessageObserver>(_reference);
        }
    }

    public ValueTask DisposeAsync() => new(UnsubscribeAsync());
}
