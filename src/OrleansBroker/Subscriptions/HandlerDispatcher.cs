using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OrleansBroker.Diagnostics;

namespace OrleansBroker.Subscriptions;

/// <summary>
/// Runs one subscription's handler on its own loop, one message at a time and in arrival order.
/// Both brokers deliver through it: the publisher only queues here, so a handler may publish or
/// subscribe without deadlock, and a slow or failing handler holds back nobody else. Closing it
/// hands back every message not yet begun (a queue group gives them to its other members) and
/// waits for a handler call in progress, so once <see cref="CloseAsync"/> has returned the handler
/// is not running and is never called again.
/// </summary>
internal sealed partial class HandlerDispatcher
{
    // Which dispatcher's handler the current async flow runs in: closing from inside a handler
    // must not wait for that handler (itself, or one that waits for it: a deadlock).
    private static readonly AsyncLocal<HandlerDispatcher?> InHandler = new();

    private readonly string _topic;
    private readonly MessageHandler _handler;
    private readonly BrokerOptions _brokerOptions;
    private readonly SubscribeOptions _options;
    private readonly ILogger _logger;
    private readonly int? _batchCapacity;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly IAckSink? _acks;
    private readonly Queue<Batch> _batches = new();
    private int _head;
    private int _pending;
    private bool _closed;
    private TaskCompletionSource? _work;
    private TaskCompletionSource? _room;
    // A handler call is in progress; a closer that must wait for it gets _idle, made only then, so
    // the hot path allocates nothing per message.
    private bool _running;
    private TaskCompletionSource? _idle;

    /// <param name="topic">The subscription's topic, for events and logs.</param>
    /// <param name="handler">The user's handler, called one message at a time.</param>
    /// <param name="brokerOptions">The broker's options: its ErrorHandler.</param>
    /// <param name="options">The subscription's options: AutoAck, MaxPending, Queue.</param>
    /// <param name="logger">Where handler failures go without an ErrorHandler.</param>
    /// <param name="batchCapacity">
    /// Null: messages queue up to <see cref="SubscribeOptions.MaxPending"/> in <see cref="TryPost"/>.
    /// A number: at most that many batches wait, and <see cref="PostAsync"/> waits for room, pushing back on the sender.
    /// </param>
    /// <param name="acks">A durable subscription's: where its events' acks and naks go. Null for a plain subscription.</param>
    public HandlerDispatcher(string topic, MessageHandler handler, BrokerOptions brokerOptions,
        SubscribeOptions options, ILogger logger, int? batchCapacity = null, IAckSink? acks = null)
    {
        _acks = acks;
        _topic = topic;
        _handler = handler;
        _brokerOptions = brokerOptions;
        _options = options;
        _logger = logger;
        _batchCapacity = batchCapacity;
        _ = Task.Run(RunAsync);
    }

    /// <summary>Queues one message unless <see cref="SubscribeOptions.MaxPending"/> are already waiting or it is closed; false: not taken.</summary>
    /// <param name="message">The message.</param>
    /// <param name="tag">A durable subscription's delivery tag; null for a plain subscription.</param>
    public bool TryPost(Message message, DeliveryTag? tag = null)
    {
        TaskCompletionSource? work;
        lock (_gate)
        {
            if (_closed || _pending >= _options.MaxPending)
            {
                return false;
            }

            _batches.Enqueue(new Batch([message], tag is { } t ? [t] : null));
            _pending++;
            work = TakeSignal(ref _work);
        }

        work?.TrySetResult();
        return true;
    }

    /// <summary>Queues a batch, waiting while <c>batchCapacity</c> batches wait; false: closed, the batch was not taken.</summary>
    /// <param name="batch">The messages, in order.</param>
    /// <param name="tags">A durable subscription's delivery tags, one per message; null for a plain subscription.</param>
    public async ValueTask<bool> PostAsync(Message[] batch, DeliveryTag[]? tags = null)
    {
        if (batch.Length == 0)
        {
            // Nothing for the handler (an empty delivery only carries its sender's count): never queued, as the loop
            // takes each queued batch message by message.
            lock (_gate)
            {
                return !_closed;
            }
        }

        while (true)
        {
            Task room;
            TaskCompletionSource? work;
            lock (_gate)
            {
                if (_closed)
                {
                    return false;
                }

                if (_batches.Count >= (_batchCapacity ?? int.MaxValue))
                {
                    room = (_room ??= NewSignal()).Task;
                    work = null;
                }
                else
                {
                    _batches.Enqueue(new Batch(batch, tags));
                    _pending += batch.Length;
                    work = TakeSignal(ref _work);
                    room = Task.CompletedTask;
                }
            }

            if (room.IsCompleted)
            {
                work?.TrySetResult();
                return true;
            }

            await room.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops the loop and returns the messages not yet begun, in order. Waits for a handler call in
    /// progress, unless called from inside a handler. Only the first call gets the messages: whoever
    /// hands them back does so once.
    /// </summary>
    public async Task<Message[]> CloseAsync()
    {
        Message[] unbegun = [];
        Task? running;
        TaskCompletionSource? work = null, room = null;
        var first = false;
        lock (_gate)
        {
            if (!_closed)
            {
                first = _closed = true;
                unbegun = _batches.Count == 0 ? [] : _batches.SelectMany((b, i) => i == 0 ? b.Messages.Skip(_head) : b.Messages).ToArray();
                _batches.Clear();
                _head = 0;
                _pending = 0;
                work = TakeSignal(ref _work);
                room = TakeSignal(ref _room);
            }

            running = _running ? (_idle ??= NewSignal()).Task : null;
        }

        if (first)
        {
            work?.TrySetResult();
            room?.TrySetResult();
            _stopping.Cancel();
        }

        // Each caller decides for itself: one inside a handler (this one's, or another's that may be
        // waiting for this one) must not wait, or the two would wait for each other.
        if (running is not null && InHandler.Value is null)
        {
            await running.ConfigureAwait(false);
        }

        return unbegun;
    }

    private async Task RunAsync()
    {
        // The loop began inside SubscribeAsync and inherited whatever Activity was current there;
        // handlers must run in their message's trace, not in the subscriber's.
        Activity.Current = null;

        // Set once for the loop's own flow, where every handler runs, rather than around each call:
        // each change of an AsyncLocal allocates a new ExecutionContext, two per message.
        InHandler.Value = this;

        // A handler call that has just ended is booked in the same lock as the next message is taken:
        // one lock per message, not two.
        var ended = false;
        while (true)
        {
            Message message;
            DeliveryTag? tag = null;
            Task? work = null;
            TaskCompletionSource? room = null, idle = null;
            var stop = false;
            lock (_gate)
            {
                if (ended)
                {
                    idle = EndCallLocked();
                    ended = false;
                }

                if (_closed)
                {
                    stop = true;
                    message = null!;
                }
                else if (_batches.Count == 0)
                {
                    work = (_work ??= NewSignal()).Task;
                    message = null!;
                }
                else
                {
                    // Taken and marked running in one step, so a close either hands it back or waits for it.
                    var batch = _batches.Peek();
                    tag = batch.Tags?[_head];
                    message = batch.Messages[_head++];
                    if (_head == batch.Messages.Length)
                    {
                        _batches.Dequeue();
                        _head = 0;
                        room = TakeSignal(ref _room);
                    }

                    _running = true;
                }
            }

            idle?.TrySetResult();
            if (stop)
            {
                return;
            }

            if (work is not null)
            {
                await work.ConfigureAwait(false);
                continue;
            }

            room?.TrySetResult();
            try
            {
                await HandleAsync(message, tag).ConfigureAwait(false);
            }
            catch
            {
                // Not expected (HandleAsync reports handler failures), but a closer must never wait for ever.
                lock (_gate)
                {
                    idle = EndCallLocked();
                }

                idle?.TrySetResult();
                throw;
            }

            ended = true;
        }
    }

    /// <summary>Books the end of a handler call; returns the signal of a closer waiting for it, to set outside the lock.</summary>
    private TaskCompletionSource? EndCallLocked()
    {
        if (!_closed)
        {
            _pending--;
        }

        _running = false;
        return TakeSignal(ref _idle);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static TaskCompletionSource? TakeSignal(ref TaskCompletionSource? signal)
    {
        var taken = signal;
        signal = null;
        return taken;
    }

    private async Task HandleAsync(Message message, DeliveryTag? tag)
    {
        var evt = new BrokerEvent(_topic, message, _acks, tag);
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
            // A durable message whose handler failed before it was settled comes back after the backoff, AutoAck or not.
            await evt.NakUnsettledAsync().ConfigureAwait(false);
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

    // The messages of one delivery, with their durable tags when the subscription is durable.
    private readonly record struct Batch(Message[] Messages, DeliveryTag[]? Tags);
}
