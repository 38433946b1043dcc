using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansBroker.Diagnostics;
using OrleansBroker.Grains;
using OrleansBroker.Internal;
using OrleansBroker.Publishing;
using OrleansBroker.Subscriptions;

namespace OrleansBroker;

/// <summary>
/// The broker on an Orleans cluster. Publishes are batched per topic into one TopicGrain call;
/// each subscription is a SubscriberGrain that calls back this client's observer; a background
/// loop renews the subscriptions' leases. The <see cref="IClusterClient"/> stays the caller's.
/// </summary>
public sealed partial class ClusterBroker : IBroker, IBrokerAdmin
{
    private static readonly TimeSpan RenewTick = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a topic's batcher is kept after its last publish (a new one is made at the next).</summary>
    internal TimeSpan BatcherIdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The topics this broker keeps a batcher for, for tests.</summary>
    internal int BatcherCount => _batchers.Count;

    private readonly IClusterClient _client;
    private readonly BrokerOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, TopicBatcher> _batchers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ClusterSubscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    // This broker as the topics see it: they take each of its numbered batches once.
    private readonly Publisher _publisher = new();
    private CancellationTokenSource? _renewing;
    private volatile bool _connected;
    private volatile bool _clientDisposed;
    private long _nextBatcherSweep;

    /// <summary>A broker on <paramref name="client"/>'s cluster that logs through the client's logger factory.</summary>
    /// <param name="client">A connected cluster client; it stays the caller's.</param>
    /// <param name="options">Copied and validated here; null: the defaults.</param>
    public ClusterBroker(IClusterClient client, BrokerOptions? options = null)
        : this(client, options, loggerFactory: null)
    {
    }

    /// <summary>A broker on <paramref name="client"/>'s cluster that logs through <paramref name="loggerFactory"/>.</summary>
    /// <param name="client">A connected cluster client; it stays the caller's.</param>
    /// <param name="options">Copied and validated here; null: the defaults.</param>
    /// <param name="loggerFactory">Where renewal and handler failures are logged; null: the client's own logger factory.</param>
    public ClusterBroker(IClusterClient client, BrokerOptions? options, ILoggerFactory? loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        _options = Validation.CopyBrokerOptions(options);

        // An Orleans client always registers a logger factory; NullLoggerFactory only keeps a bare test double working.
        loggerFactory ??= client.ServiceProvider.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        _logger = loggerFactory.CreateLogger(typeof(ClusterBroker).FullName!);
    }

    /// <summary>The options this broker was built with: a copy each time, as they cannot change.</summary>
    public BrokerOptions Options => _options with { };

    /// <inheritdoc/>
    public string Address { get; private set; } = "";

    /// <inheritdoc/>
    public bool IsConnected => _connected;

    /// <inheritdoc/>
    public Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_connected)
            {
                var cluster = _client.ServiceProvider.GetService<IOptions<ClusterOptions>>()?.Value;
                Address = $"orleans://{cluster?.ClusterId ?? "default"}/{cluster?.ServiceId ?? "default"}";
                _renewing = new CancellationTokenSource();
                _clientDisposed = false;
                _ = RenewLeasesAsync(_renewing.Token);
                _connected = true;
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task DisconnectAsync(CancellationToken cancellationToken = default)
    {
        CancellationTokenSource? renewing;
        lock (_gate)
        {
            _connected = false;
            renewing = _renewing;
            _renewing = null;
        }

        renewing?.Cancel();
        renewing?.Dispose();

        // Accepted publishes still go out; then every subscription ends, all at once.
        await Task.WhenAll(_batchers.Values.Select(b => b.FlushAsync())).ConfigureAwait(false);
        var ending = _subscriptions.Values.Select(s => s.UnsubscribeAsync(cancellationToken)).ToList();
        try
        {
            await Task.WhenAll(ending).ConfigureAwait(false);
        }
        catch (BrokerException) when (ending.All(t => t.IsCompleted))
        {
            var failures = ending.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).ToList();
            throw new BrokerException(BrokerErrorCode.Unavailable,
                $"{failures.Count} subscription(s) could not be ended in the cluster; their leases will end them.",
                new AggregateException(failures));
        }
    }

    /// <inheritdoc/>
    public Task PublishAsync(string topic, Message message, CancellationToken cancellationToken = default)
    {
        Validation.ValidateTopic(topic);
        var size = Validation.ValidateMessage(message, _options.MaxMessageBytes);
        cancellationToken.ThrowIfCancellationRequested();
        var publishing = PublishScope.Start(topic, message, size);
        Task accepted;
        try
        {
            Validation.ThrowIfNotConnected(_connected);
            accepted = EnqueueAsync(topic, publishing.Message, publishing.Size);
        }
        catch (Exception ex)
        {
            publishing.End(ex);
            throw;
        }

        publishing.EndWhen(accepted);
        return cancellationToken.CanBeCanceled ? accepted.WaitAsync(cancellationToken) : accepted;
    }

    /// <summary>Into the topic's batcher; one retired meanwhile (it was idle) is replaced.</summary>
    private Task EnqueueAsync(string topic, Message message, long size)
    {
        while (true)
        {
            var batcher = _batchers.GetOrAdd(topic, static (name, broker) =>
                new TopicBatcher(broker._client.GetGrain<ITopicGrain>(name), name, broker._publisher, broker._options), this);
            if (batcher.TryEnqueue(message, size, out var accepted))
            {
                return accepted;
            }

            _batchers.TryRemove(new KeyValuePair<string, TopicBatcher>(topic, batcher));
        }
    }

    /// <summary>
    /// Forgets the batchers of topics not published to for <see cref="BatcherIdleTimeout"/>, so a
    /// publisher of ever new topics (one per order, say) does not grow for ever. Only an idle batcher
    /// retires, so a topic never has two sending at once.
    /// </summary>
    private void RetireIdleBatchers()
    {
        foreach (var (topic, batcher) in _batchers)
        {
            if (batcher.TryRetire(BatcherIdleTimeout))
            {
                _batchers.TryRemove(new KeyValuePair<string, TopicBatcher>(topic, batcher));
            }
        }
    }

    /// <inheritdoc/>
    public async Task<ISubscriber> SubscribeAsync(string topic, MessageHandler handler,
        SubscribeOptions? options = null, CancellationToken cancellationToken = default)
    {
        Validation.ValidateReadableTopic(topic);
        ArgumentNullException.ThrowIfNull(handler);
        options = Validation.ValidateSubscribeOptions(options);
        cancellationToken.ThrowIfCancellationRequested();
        Validation.ThrowIfNotConnected(_connected);

        var subscription = new ClusterSubscription(this, _client, topic, handler, options, _logger);
        _subscriptions[subscription.Id] = subscription;
        try
        {
            if (!await subscription.AttachAsync().WaitAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new BrokerException(BrokerErrorCode.Unavailable, $"The durable subscription '{options.Queue}' of topic '{topic}' was deleted while it was being joined.");
            }
        }
        catch (Exception ex)
        {
            await EndQuietlyAsync(subscription).ConfigureAwait(false);

            // Cancelled, or refused by the silo under its own limits (a MaxPending above its cap): as it is.
            if (ex is OperationCanceledException or BrokerException or ArgumentException)
            {
                throw;
            }

            throw new BrokerException(BrokerErrorCode.Unavailable, $"Subscribing to topic '{topic}' failed: {ErrorText.FirstLine(ex)}", ex);
        }

        return subscription;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<TopicInfo>> ListTopicsAsync(CancellationToken cancellationToken = default)
    {
        // Every topic in use is active: its subscribers' lease renewals keep it so, and an unused
        // topic is forgotten when collected. So the cluster's active topic grains are the topics.
        // A durable subscription's topic may sit idle while the subscription keeps its backlog: its active grain names it.
        var management = _client.GetGrain<IManagementGrain>(0);
        var active = await CallClusterAsync(
            () => management.GetActiveGrains(GrainType.Create(BrokerGrainTypes.Topic)).AsTask(), cancellationToken).ConfigureAwait(false);
        var durables = await CallClusterAsync(
            () => management.GetActiveGrains(GrainType.Create(BrokerGrainTypes.Durable)).AsTask(), cancellationToken).ConfigureAwait(false);
        var topics = active.Select(id => id.Key.ToString()!)
            .Concat(durables.Select(id => id.Key.ToString()!).Where(k => k.Contains('/', StringComparison.Ordinal)).Select(k => DurableKey.Parse(k).Topic))
            .Distinct(StringComparer.Ordinal);
        var snapshots = await CallClusterAsync(
            () => Task.WhenAll(topics.Select(topic => _client.GetGrain<ITopicGrain>(topic).GetInfo())), cancellationToken).ConfigureAwait(false);
        var infos = await CallClusterAsync(
            () => Task.WhenAll(snapshots.OfType<TopicSnapshot>().Select(WithDurablesAsync)), cancellationToken).ConfigureAwait(false);
        return infos.OrderBy(t => t.Topic, StringComparer.Ordinal).ToList();
    }

    /// <inheritdoc/>
    public async Task<TopicInfo?> GetTopicAsync(string topic, CancellationToken cancellationToken = default)
    {
        Validation.ValidateReadableTopic(topic);
        var snapshot = await CallClusterAsync(() => _client.GetGrain<ITopicGrain>(topic).GetInfo(), cancellationToken).ConfigureAwait(false);
        return snapshot is null ? null : await CallClusterAsync(() => WithDurablesAsync(snapshot), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The topic's figures with its durable subscriptions', which their own grains keep.</summary>
    private async Task<TopicInfo> WithDurablesAsync(TopicSnapshot snapshot)
    {
        if (snapshot.Durables.Length == 0)
        {
            return snapshot.ToInfo();
        }

        var durables = await Task.WhenAll(snapshot.Durables.Select(queue =>
            _client.GetGrain<IDurableGrain>(DurableKey.Of(snapshot.Topic, queue)).GetInfo())).ConfigureAwait(false);
        return snapshot.ToInfo(durables.OfType<DurableSnapshot>().Select(d => d.ToInfo()).ToList());
    }

    /// <inheritdoc/>
    public Task<bool> DeleteDurableAsync(string topic, string queue, CancellationToken cancellationToken = default)
    {
        Validation.ValidateReadableTopic(topic);
        ArgumentNullException.ThrowIfNull(queue);
        Validation.ValidateQueue(queue);
        cancellationToken.ThrowIfCancellationRequested();
        return CallClusterAsync(() => _client.GetGrain<IDurableGrain>(DurableKey.Of(topic, queue)).Delete(), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => new(DisconnectAsync());

    /// <summary>"orleans", as go-micro's String() names a broker.</summary>
    public override string ToString() => "orleans";

    internal void Forget(ClusterSubscription subscription) => _subscriptions.TryRemove(subscription.Id, out _);

    private static async Task<T> CallClusterAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not BrokerException)
        {
            throw new BrokerException(BrokerErrorCode.Unavailable, $"The cluster did not answer: {ErrorText.FirstLine(ex)}", ex);
        }
    }

    private async Task EndQuietlyAsync(ClusterSubscription subscription)
    {
        try
        {
            await subscription.UnsubscribeAsync().ConfigureAwait(false);
        }
        catch (BrokerException ex)
        {
            LogWarningCleanupFailed(_logger, ex, subscription.Topic);
        }
    }

    /// <summary>
    /// Renews each subscription when a third of the lease its silo granted has passed. Ticks often,
    /// so a short lease learned from a new subscription is honoured at once.
    /// </summary>
    private async Task RenewLeasesAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(RenewTick, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (_clientDisposed)
            {
                // The cluster client was disposed under this broker: nothing can be renewed any more.
                return;
            }

            if (Environment.TickCount64 >= _nextBatcherSweep)
            {
                _nextBatcherSweep = Environment.TickCount64 + (long)BatcherIdleTimeout.TotalMilliseconds / 2;
                RetireIdleBatchers();
            }

            var now = DateTime.UtcNow;
            foreach (var subscription in _subscriptions.Values)
            {
                if (subscription.TryBeginRenewal(now))
                {
                    _ = RenewAsync(subscription);
                }
            }
        }
    }

    /// <summary>One subscription's renewal, on its own: bounded by its timeout, retried with backoff when it fails.</summary>
    private async Task RenewAsync(ClusterSubscription subscription)
    {
        var renewed = false;
        try
        {
            await subscription.RenewAsync().WaitAsync(subscription.RenewTimeout).ConfigureAwait(false);
            renewed = true;
        }
        catch (ObjectDisposedException)
        {
            _clientDisposed = true;
        }
        catch (Exception ex)
        {
            LogWarningRenewFailed(_logger, ex, subscription.Topic);
        }
        finally
        {
            subscription.EndRenewal(renewed, DateTime.UtcNow);
        }
    }

    [LoggerMessage(10, LogLevel.Warning, "Renewing a subscription to topic '{Topic}' failed; retrying after a backoff")]
    private static partial void LogWarningRenewFailed(ILogger logger, Exception exception, string topic);

    [LoggerMessage(11, LogLevel.Warning, "Ending a failed subscription to topic '{Topic}' did not reach the cluster")]
    private static partial void LogWarningCleanupFailed(ILogger logger, Exception exception, string topic);
}
