using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
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

    private readonly IClusterClient _client;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, TopicBatcher> _batchers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ClusterSubscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    // This broker as the topics see it: they take each of its numbered batches once.
    private readonly Publisher _publisher = new();
    private CancellationTokenSource? _renewing;
    private volatile bool _connected;

    public ClusterBroker(IClusterClient client, BrokerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        Options = options ?? new BrokerOptions();
        if (Options.PublishTimeout <= TimeSpan.Zero && Options.PublishTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(options), Options.PublishTimeout, "PublishTimeout must be positive, or Timeout.InfiniteTimeSpan.");
        }

        _logger = client.ServiceProvider.GetService<ILoggerFactory>()?.CreateLogger(typeof(ClusterBroker).FullName!)
            ?? new ConsoleErrorLogger(typeof(ClusterBroker).FullName!);
    }

    public BrokerOptions Options { get; }

    public string Address { get; private set; } = "";

    public bool IsConnected => _connected;

    public Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_connected)
            {
                var cluster = _client.ServiceProvider.GetService<IOptions<ClusterOptions>>()?.Value;
                Address = $"orleans://{cluster?.ClusterId ?? "default"}/{cluster?.ServiceId ?? "default"}";
                _renewing = new CancellationTokenSource();
                _ = RenewLeasesAsync(_renewing.Token);
                _connected = true;
            }
        }

        return Task.CompletedTask;
    }

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

    public Task PublishAsync(string topic, Message message, CancellationToken cancellationToken = default)
    {
        Validation.ValidateTopic(topic);
        var size = Validation.ValidateMessage(message, Options.MaxMessageBytes);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfNotConnected();
        var batcher = _batchers.GetOrAdd(topic, static (name, broker) =>
            new TopicBatcher(broker._client.GetGrain<ITopicGrain>(name), name, broker._publisher, broker.Options), this);
        var accepted = batcher.EnqueueAsync(message, size);
        return cancellationToken.CanBeCanceled ? accepted.WaitAsync(cancellationToken) : accepted;
    }

    public async Task<ISubscriber> SubscribeAsync(string topic, MessageHandler handler,
        SubscribeOptions? options = null, CancellationToken cancellationToken = default)
    {
        Validation.ValidateTopic(topic);
        ArgumentNullException.ThrowIfNull(handler);
        options = Validation.ValidateSubscribeOptions(options);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfNotConnected();

        var subscription = new ClusterSubscription(this, _client, topic, handler, options, _logger);
        _subscriptions[subscription.Id] = subscription;
        try
        {
            await subscription.AttachAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await EndQuietlyAsync(subscription).ConfigureAwait(false);
            if (ex is OperationCanceledException)
            {
                throw;
            }

            throw new BrokerException(BrokerErrorCode.Unavailable, $"Subscribing to topic '{topic}' failed: {ErrorText.FirstLine(ex)}", ex);
        }

        return subscription;
    }

    public async Task<IReadOnlyList<TopicInfo>> ListTopicsAsync(CancellationToken cancellationToken = default)
    {
        // Every topic in use is active: its subscribers' lease renewals keep it so, and an unused
        // topic is forgotten when collected. So the cluster's active topic grains are the topics.
        var active = await CallClusterAsync(
            () => _client.GetGrain<IManagementGrain>(0).GetActiveGrains(GrainType.Create(BrokerGrainTypes.Topic)).AsTask(), cancellationToken).ConfigureAwait(false);
        var snapshots = await CallClusterAsync(
            () => Task.WhenAll(active.Distinct().Select(id => _client.GetGrain<ITopicGrain>(id.Key.ToString()!).GetInfo())), cancellationToken).ConfigureAwait(false);
        return snapshots.OfType<TopicSnapshot>().Select(s => s.ToInfo()).OrderBy(t => t.Topic, StringComparer.Ordinal).ToList();
    }

    public async Task<TopicInfo?> GetTopicAsync(string topic, CancellationToken cancellationToken = default)
    {
        Validation.ValidateTopic(topic);
        var snapshot = await CallClusterAsync(() => _client.GetGrain<ITopicGrain>(topic).GetInfo(), cancellationToken).ConfigureAwait(false);
        return snapshot?.ToInfo();
    }

    public ValueTask DisposeAsync() => new(DisconnectAsync());

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

            var now = DateTime.UtcNow;
            var due = _subscriptions.Values.Where(s => s.IsRenewalDue(now)).ToList();
            var renewed = await Task.WhenAll(due.Select(RenewAsync)).ConfigureAwait(false);
            if (renewed.Contains(RenewOutcome.ClientDisposed))
            {
                // The cluster client was disposed under this broker: nothing can be renewed any more.
                return;
            }
        }
    }

    private async Task<RenewOutcome> RenewAsync(ClusterSubscription subscription)
    {
        try
        {
            await subscription.RenewAsync().ConfigureAwait(false);
            return RenewOutcome.Renewed;
        }
        catch (ObjectDisposedException)
        {
            return RenewOutcome.ClientDisposed;
        }
        catch (Exception ex)
        {
            LogWarningRenewFailed(_logger, ex, subscription.Topic);
            return RenewOutcome.Failed;
        }
    }

    private enum RenewOutcome
    {
        Renewed,
        Failed,
        ClientDisposed,
    }

    private void ThrowIfNotConnected()
    {
        if (!_connected)
        {
            throw new BrokerException(BrokerErrorCode.NotConnected, "The broker is not connected: call ConnectAsync first.");
        }
    }

    [LoggerMessage(10, LogLevel.Warning, "Renewing a subscription to topic '{Topic}' failed; retrying next period")]
    private static partial void LogWarningRenewFailed(ILogger logger, Exception exception, string topic);

    [LoggerMessage(11, LogLevel.Warning, "Ending a failed subscription to topic '{Topic}' did not reach the cluster")]
    private static partial void LogWarningCleanupFailed(ILogger logger, Exception exception, string topic);
}
