using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OrleansBroker.Diagnostics;

namespace OrleansBroker.Subscriptions;

/// <summary>
/// Runs one subscription's handler on its own loop, one message at a time and in arrival order.
/// Both brokers deliver through it: the publisher only queues here, so a handler may publish or
/// subscribe without deadlock, and a slow or failing handler holds back nobody else.
/// </summary>
internal sealed partial class HandlerDispatcher
{
    private readonly string _topic;
    private readonly MessageHandler _handler;
    private readonly BrokerOptions _brokerOptions;
    private readonly SubscribeOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<Message[]> _channel;
    private readonly CancellationTokenSource _stopping = new();
    private volatile bool _closed;
    private int _pending;

    /// <param name="batchCapacity">
    /// Null: an unbounded queue limited by <see cref="SubscribeOptions.MaxPending"/> messages in <see cref="TryPost"/>.
    /// A number: at most that many batches wait, and <see cref="PostAsync"/> waits for room, pushing back on the sender.
    /// </param>
    public HandlerDispatcher(string topic, MessageHandler handler, BrokerOptions brokerOptions,
        SubscribeOptions options, ILogger logger, int? batchCapacity = null)
    {
        _topic = topic;
        _handler = handler;
        _brokerOptions = brokerOptions;
        _options = options;
        _logger = logger;
        _channel = batchCapacity is { } capacity
            ? Channel.CreateBounded<Message[]>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait })
            : Channel.CreateUnbounded<Message[]>(new UnboundedChannelOptions { SingleReader = true });
        Completion = Task.Run(RunAsync);
    }

    /// <summary>Completes when the loop has stopped after <see cref="Close"/>.</summary>
    public Task Completion { get; }

    public bool IsClosed => _closed;

    /// <summary>Queues one message unless <see cref="SubscribeOptions.MaxPending"/> are already waiting; false: dropped.</summary>
    public bool TryPost(Message message)
    {
        if (Interlocked.Increment(ref _pending) > _options.MaxPending)
        {
            Interlocked.Decrement(ref _pending);
            return false;
        }

        if (!_channel.Writer.TryWrite([message]))
        {
            Interlocked.Decrement(ref _pending);
            return false;
        }

        return true;
    }

    /// <summary>Queues a batch, waiting while the queue is full; a closed dispatcher discards it.</summary>
    public async ValueTask PostAsync(Message[] batch)
    {
        Interlocked.Add(ref _pending, batch.Length);
        try
        {
            await _channel.Writer.WriteAsync(batch, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
        {
            Interlocked.Add(ref _pending, -batch.Length);
        }
    }

    /// <summary>Stops calling the handler: once this returns, it is not called again.</summary>
    public void Close()
    {
        _closed = true;
        _channel.Writer.TryComplete();
        _stopping.Cancel();
    }

    private async Task RunAsync()
    {
        // The loop began inside SubscribeAsync and inherited whatever Activity was current there;
        // handlers must run in their message's trace, not in the subscriber's.
        Activity.Current = null;
        await foreach (var batch in _channel.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            foreach (var message in batch)
            {
                if (_closed)
                {
                    return;
                }

                await HandleAsync(message).ConfigureAwait(false);
                Interlocked.Decrement(ref _pending);
            }
        }
    }

    private async Task HandleAsync(Message message)
    {
        var evt = new BrokerEvent(_topic, message);
        using var processing = ProcessScope.Start(_topic, _options.Queue, message);
        Exception? error = null;
        try
        {
            await _handler(evt, _stopping.Token).ConfigureAwait(false);
            if (_options.AutoAck)
            {
                await evt.AckAsync(_stopping.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        processing.Completed(error);
        if (error is not null)
        {
            evt.Error = error;
            await ReportAsync(evt).ConfigureAwait(false);
        }
    }

    private async Task ReportAsync(BrokerEvent evt)
    {
        if (_brokerOptions.ErrorHandler is not { } errorHandler)
        {
            LogErrorHandlerFailed(_logger, evt.Error!, _topic);
            return;
        }

        try
        {
            await errorHandler(evt, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogErrorErrorHandlerFailed(_logger, ex, _topic);
        }
    }

    [LoggerMessage(1, LogLevel.Error, "A handler of topic '{Topic}' failed; delivery goes on")]
    private static partial void LogErrorHandlerFailed(ILogger logger, Exception exception, string topic);

    [LoggerMessage(2, LogLevel.Error, "The ErrorHandler failed for a message of topic '{Topic}'")]
    private static partial void LogErrorErrorHandlerFailed(ILogger logger, Exception exception, string topic);
}
