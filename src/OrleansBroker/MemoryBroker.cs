using Microsoft.Extensions.Logging;
using OrleansBroker.Diagnostics;
using OrleansBroker.Internal;
using OrleansBroker.Memory;
using OrleansBroker.Subscriptions;

namespace OrleansBroker;

/// <summary>
/// An in-process broker (go-micro's memory broker, without its faults): queue groups work,
/// Unsubscribe is finished when it returns, each handler runs on its own loop so handlers may
/// publish and subscribe, and nothing outlives its subscription.
/// </summary>
public sealed partial class MemoryBroker : IBroker, IBrokerAdmin
{
    /// <summary>A topic with no subscribers, unused this long, is forgotten (its counters with it).</summary>
    internal static readonly TimeSpan IdleTopicTimeout = TimeSpan.FromMinutes(1);

    private const int MinSweepTopics = 1024;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, MemoryTopic> _topics = new(StringComparer.Ordinal);
    private readonly HashSet<MemorySubscription> _subscriptions = [];
    private readonly BrokerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private bool _connected;
    private int _sweepAt = MinSweepTopics;

    /// <summary>An in-process broker; handler failures without an <see cref="BrokerOptions.ErrorHandler"/> go to standard error.</summary>
    /// <param name="options">Copied and validated here; null: the defaults.</param>
    public MemoryBroker(BrokerOptions? options = null)
        : this(options, loggerFactory: null)
    {
    }

    /// <summary>An in-process broker that logs through <paramref name="loggerFactory"/>.</summary>
    /// <param name="options">Copied and validated here; null: the defaults.</param>
    /// <param name="loggerFactory">Where handler failures are logged; null: standard error.</param>
    public MemoryBroker(BrokerOptions? options, ILoggerFactory? loggerFactory)
        : this(options, loggerFactory, TimeProvider.System)
    {
    }

    internal MemoryBroker(BrokerOptions? options, ILoggerFactory? loggerFactory, TimeProvider time)
    {
        _time = time;
        _options = Validation.CopyBrokerOptions(options);
        _logger = loggerFactory?.CreateLogger(typeof(MemoryBroker).FullName!) ?? new ConsoleErrorLogger(typeof(MemoryBroker).FullName!);
    }

    /// <summary>The options this broker was built with: a copy each time, as they cannot change.</summary>
    public BrokerOptions Options => _options with { };

    /// <inheritdoc/>
    public string Address { get; private set; } = "";

    /// <inheritdoc/>
    public bool IsConnected
    {
        get
        {
            lock (_gate)
            {
                return _connected;
            }
        }
    }

    /// <inheritdoc/>
    public Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _connected = true;
            Address = "memory";
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task DisconnectAsync(CancellationToken cancellationToken = default)
    {
        List<MemorySubscription> ending;
        lock (_gate)
        {
            _connected = false;
            ending = [.. _subscriptions];
        }

        await Task.WhenAll(ending.Select(RemoveAsync)).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task PublishAsync(string topic, Message message, CancellationToken cancellationToken = default)
    {
        Validation.ValidateTopic(topic);
        var size = Validation.ValidateMessage(message, _options.MaxMessageBytes);
        cancellationToken.ThrowIfCancellationRequested();
        var publishing = PublishScope.Start(topic, message, size);
        try
        {
            lock (_gate)
            {
                Validation.ThrowIfNotConnected(_connected);
                GetOrAddTopic(topic).Publish(publishing.Message);
            }
        }
        catch (Exception ex)
        {
            publishing.End(ex);
            throw;
        }

        publishing.End(error: null);
        PublishScope.RecordSent(topic, 1, error: null);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<ISubscriber> SubscribeAsync(string topic, MessageHandler handler,
        SubscribeOptions? options = null, CancellationToken cancellationToken = default)
    {
        Validation.ValidateReadableTopic(topic);
        ArgumentNullException.ThrowIfNull(handler);
        options = Validation.ValidateSubscribeOptions(options);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            Validation.ThrowIfNotConnected(_connected);
            if (options.Durable)
            {
                return Task.FromResult<ISubscriber>(JoinDurable(topic, handler, options));
            }

            var subscription = new MemorySubscription(this, topic, options,
                new HandlerDispatcher(topic, handler, _options, options, _logger));
            GetOrAddTopic(topic).Add(subscription);
            _subscriptions.Add(subscription);
            return Task.FromResult<ISubscriber>(subscription);
        }
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<TopicInfo>> ListTopicsAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            IReadOnlyList<TopicInfo> topics = _topics.Values.Select(t => t.ToInfo()).OrderBy(t => t.Topic, StringComparer.Ordinal).ToList();
            return Task.FromResult(topics);
        }
    }

    /// <inheritdoc/>
    public Task<TopicInfo?> GetTopicAsync(string topic, CancellationToken cancellationToken = default)
    {
        Validation.ValidateReadableTopic(topic);
        lock (_gate)
        {
            return Task.FromResult(_topics.TryGetValue(topic, out var found) ? found.ToInfo() : null);
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => new(DisconnectAsync());

    /// <summary>"memory", as go-micro's String() names a broker.</summary>
    public override string ToString() => "memory";

    /// <summary>
    /// Takes the subscription off its topic, then closes its dispatcher (waiting for a handler in
    /// progress) and hands the messages it never began back to its topic: a queue group's other
    /// members take them, and what nobody can take is counted as dropped.
    /// </summary>
    internal async Task RemoveAsync(MemorySubscription subscription)
    {
        bool removed;
        lock (_gate)
        {
            removed = _subscriptions.Remove(subscription);
            if (removed && subscription.Member is { } leaving)
            {
                leaving.Durable.Leave(leaving);
                GetOrAddTopic(subscription.Topic);
            }
            else if (removed)
            {
                GetOrAddTopic(subscription.Topic).Remove(subscription);
            }
        }

        var unbegun = await subscription.Dispatcher.CloseAsync().ConfigureAwait(false);
        if (subscription.Member is { } member)
        {
            // The durable subscription knows everything the member held, begun or not.
            if (removed)
            {
                HandOver(member);
            }

            return;
        }

        if (removed && unbegun.Length > 0)
        {
            int dropped;
            lock (_gate)
            {
                dropped = GetOrAddTopic(subscription.Topic).HandBack(subscription.Options.Queue, unbegun);
            }

            if (dropped > 0)
            {
                LogWarningLeftoversDropped(_logger, subscription.Topic, dropped);
            }
        }
    }

    /// <summary>The topic, marked as used now; a new one may first sweep out topics long unused.</summary>
    private MemoryTopic GetOrAddTopic(string topic)
    {
        var now = _time.GetUtcNow();
        if (!_topics.TryGetValue(topic, out var found))
        {
            if (_topics.Count >= _sweepAt)
            {
                ForgetIdleTopics(now);
            }

            _topics[topic] = found = new MemoryTopic(topic);
        }

        found.LastUsed = now;
        return found;
    }

    /// <summary>
    /// Forgets topics nobody subscribes to (durably or not) and nobody used for <see cref="IdleTopicTimeout"/>, as the
    /// cluster forgets an idle topic grain, so publishing to ever new topics (one per order, say)
    /// does not grow the broker forever. Runs each time the table doubles: O(1) per new topic.
    /// </summary>
    private void ForgetIdleTopics(DateTimeOffset now)
    {
        foreach (var (name, topic) in _topics)
        {
            if (topic.Subscribers == 0 && !topic.HasDurables && now - topic.LastUsed >= IdleTopicTimeout)
            {
                _topics.Remove(name);
            }
        }

        _sweepAt = Math.Max(MinSweepTopics, 2 * _topics.Count);
    }

    [LoggerMessage(40, LogLevel.Warning, "Topic '{Topic}': a subscription ended with {Count} message(s) it had not begun and no queue-group member to take them; dropped")]
    private static partial void LogWarningLeftoversDropped(ILogger logger, string topic, int count);
}
