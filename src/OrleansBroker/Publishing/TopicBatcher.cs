using OrleansBroker.Diagnostics;
using OrleansBroker.Internal;
using OrleansBroker.Grains;

namespace OrleansBroker.Publishing;

/// <summary>
/// Coalesces one client's concurrent publishes to one topic into batches (as NATS clients coalesce writes): a new
/// batch goes out at once while there is room for another call, and whatever arrives meanwhile rides in the next call.
/// A topic that answers at once gets one call at a time, each carrying all that waited; one that stores each batch
/// before it answers gets up to <see cref="MaxCallsInFlight"/>, so the store's round trips overlap. Each call names the batch sent
/// before it, and the topic takes a batch only after that one, so the publisher's order holds however the calls travel.
/// A batch the cluster could not take (its topic's silo died or is shutting down, a gateway was lost) is sent again,
/// ahead of later batches, until its <see cref="BrokerOptions.PublishTimeout"/> passes. Batches are numbered per
/// publisher, so the topic takes each once however often it is sent.
/// At most <see cref="MaxQueuedMessages"/> messages and <see cref="MaxQueuedBytes"/> wait to be sent:
/// past that a publish waits its turn, in order, before it is batched (a publisher that awaits its
/// publishes is slowed down to what the cluster takes). An idle batcher can be retired, so topics
/// published to once cost nothing for ever.
/// </summary>
internal sealed class TopicBatcher(ITopicGrain grain, string topic, Publisher publisher, BrokerOptions options)
{
    // Bounds one grain call well under Orleans' message size limit and keeps a call's latency short.
    internal const int MaxBatchMessages = 4096;
    internal const long MaxBatchBytes = 4 * 1024 * 1024;

    // Sixteen full batches: enough to keep the calls in flight busy and the next ones filling.
    internal const int MaxQueuedMessages = 16 * MaxBatchMessages;
    internal const long MaxQueuedBytes = 16 * MaxBatchBytes;

    /// <summary>
    /// Calls to the topic in flight at once: the next batch goes while earlier ones are on their way or being stored
    /// (a durable topic answers only once its store has the batch), so a publisher waits less than a round trip.
    /// </summary>
    internal const int MaxCallsInFlight = 4;

    internal static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(50);
    internal static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly Queue<PendingBatch> _waiting = new();
    private readonly Queue<WaitingTurn> _turns = new();
    private PendingBatch? _open;
    private bool _sending;
    private bool _retired;
    private int _queuedMessages;
    private long _queuedBytes;
    private long _lastUsed = Environment.TickCount64;
    private Task _lastBatch = Task.CompletedTask;

    // The newest batch sent to the topic, which the next one names as its previous, and the newest the topic
    // took: only the one sending loop touches them.
    private long _lastSent;
    private long _lastTaken;
    private bool _startAfresh;

    // One call at a time to a topic that answers at once (each call then carries all that waited); several to one that
    // answers only once its store has the batch (PublishOutcome.Stored), as the newest answer says.
    private int _callsAllowed = 1;

    // Set while the sending loop waits for an answer with room for another call: a new batch wakes it.
    private TaskCompletionSource? _wake;

    /// <summary>Messages batched and not yet answered for, for tests.</summary>
    internal int QueuedMessages
    {
        get
        {
            lock (_gate)
            {
                return _queuedMessages;
            }
        }
    }

    /// <summary>Queues the message; the task completes when the topic has accepted its batch.</summary>
    public Task EnqueueAsync(Message message, long size) =>
        TryEnqueue(message, size, out var accepted) ? accepted : throw new InvalidOperationException("The batcher was retired.");

    /// <summary>
    /// Queues the message, or waits for room behind those already waiting; false once the batcher was
    /// retired (make a new one). The task completes when the topic has accepted the message's batch.
    /// </summary>
    public bool TryEnqueue(Message message, long size, out Task accepted)
    {
        var startSending = false;
        TaskCompletionSource? wake;
        lock (_gate)
        {
            if (_retired)
            {
                accepted = Task.CompletedTask;
                return false;
            }

            _lastUsed = Environment.TickCount64;
            if (_turns.Count > 0 || IsFullFor(size))
            {
                var turn = new WaitingTurn(message, size);
                _turns.Enqueue(turn);
                _lastBatch = accepted = turn.Accepted.Task;
                return true;
            }

            accepted = AddLocked(message, size);
            if (!_sending)
            {
                _sending = startSending = true;
            }

            // A new batch and a sending loop waiting with room for it: it sends from here (below, outside the gate).
            wake = _waiting.Count == 1 && _open!.Messages.Count == 1 ? _wake : null;
            if (wake is not null)
            {
                _wake = null;
            }
        }

        if (startSending)
        {
            _ = SendAllAsync();
        }

        wake?.TrySetResult();

        return true;
    }

    /// <summary>
    /// Retires the batcher if nothing is queued, waiting or in flight and it has been unused for
    /// <paramref name="idleFor"/>; a retired batcher takes no more messages.
    /// </summary>
    public bool TryRetire(TimeSpan idleFor)
    {
        lock (_gate)
        {
            if (!_retired && !_sending && _waiting.Count == 0 && _turns.Count == 0
                && Environment.TickCount64 - _lastUsed >= (long)idleFor.TotalMilliseconds)
            {
                _retired = true;
            }

            return _retired;
        }
    }

    private bool IsFullFor(long size) =>
        _queuedMessages > 0 && (_queuedMessages >= MaxQueuedMessages || _queuedBytes + size > MaxQueuedBytes);

    private Task AddLocked(Message message, long size)
    {
        if (_open is null || _open.IsFullFor(size))
        {
            _open = new PendingBatch(Deadline.After(options.PublishTimeout));
            _waiting.Enqueue(_open);
            if (_turns.Count == 0)
            {
                // Else the last publish waiting its turn is the last thing to flush.
                _lastBatch = _open.Accepted.Task;
            }
        }

        _open.Add(message, size);
        _queuedMessages++;
        _queuedBytes += size;
        return _open.Accepted.Task;
    }

    /// <summary>A batch was answered for: its room goes to the publishes waiting their turn, in order.</summary>
    private void ReleaseLocked(PendingBatch batch)
    {
        _queuedMessages -= batch.Messages.Count;
        _queuedBytes -= batch.Bytes;
        while (_turns.TryPeek(out var turn) && !IsFullFor(turn.Size))
        {
            _turns.Dequeue();
            turn.Follow(AddLocked(turn.Message, turn.Size));
        }
    }

    /// <summary>Completes when everything queued so far has been sent (or has failed).</summary>
    public Task FlushAsync()
    {
        lock (_gate)
        {
            return _lastBatch.ContinueWith(static _ => { }, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Sends the waiting batches in order, up to <see cref="MaxCallsInFlight"/> calls at once, each naming the batch
    /// sent before it so the topic takes them in that order whatever order they arrive in. When one is not taken
    /// (refused for its order, or its call failed on the way), the calls still out are waited for and what was not
    /// taken is sent again one at a time, in order, before the pipeline fills again.
    /// </summary>
    private async Task SendAllAsync()
    {
        var calls = new Queue<Call>();
        while (true)
        {
            if (calls.Count == 0)
            {
                // Everything sent before is done with: the next batch follows the newest the topic took.
                _lastSent = _lastTaken;
            }

            while (calls.Count < _callsAllowed && NextToSend() is { } batch)
            {
                // Only this loop sends, so numbers go out in the order the batches were made.
                var sequence = publisher.NextSequence();
                calls.Enqueue(new Call(batch, sequence, Start(batch, sequence, _lastSent)));
                _lastSent = sequence;
            }

            Task? wake = null;
            lock (_gate)
            {
                if (_waiting.Count > 0 && calls.Count < _callsAllowed)
                {
                    continue;
                }

                if (calls.Count == 0)
                {
                    _sending = false;
                    return;
                }

                if (calls.Count < _callsAllowed)
                {
                    // Room for another call: a batch made meanwhile goes at once, not after the oldest answer.
                    // Its continuation runs on the publisher's thread that sets it: the batch goes without a thread hop.
                    _wake = new TaskCompletionSource();
                    wake = _wake.Task;
                }
            }

            var oldest = calls.Peek();
            if (wake is not null)
            {
                await Task.WhenAny(oldest.Answered, wake).ConfigureAwait(false);
                if (!wake.IsCompleted)
                {
                    lock (_gate)
                    {
                        _wake = null;
                    }
                }

                if (!oldest.Answered.IsCompleted)
                {
                    continue;
                }
            }

            calls.Dequeue();
            if (await TryCompleteAsync(oldest).ConfigureAwait(false))
            {
                continue;
            }

            // Not taken: the rest still out may have been taken or refused; then resend what was not, in order.
            var again = new List<Call> { oldest };
            while (calls.TryDequeue(out var later))
            {
                if (!await TryCompleteAsync(later).ConfigureAwait(false))
                {
                    again.Add(later);
                }
            }

            foreach (var call in again)
            {
                await SendAsync(call.Batch, call.Sequence).ConfigureAwait(false);
                Settled(call.Batch);
            }
        }
    }

    /// <summary>The oldest batch waiting, closed to further messages; null when none waits.</summary>
    private PendingBatch? NextToSend()
    {
        lock (_gate)
        {
            if (!_waiting.TryDequeue(out var batch))
            {
                return null;
            }

            if (ReferenceEquals(batch, _open))
            {
                _open = null;
            }

            return batch;
        }
    }

    private Task<PublishOutcome> Start(PendingBatch batch, long sequence, long previous)
    {
        try
        {
            return grain.Publish(publisher.Id, sequence, previous, batch.Immutable);
        }
        catch (Exception ex)
        {
            return Task.FromException<PublishOutcome>(ex);
        }
    }

    /// <summary>
    /// Waits for a pipelined call: true when it is done with (taken, or failed for good, its publishers told); false
    /// when it must be sent again (refused for its order, or failed on the way, with time left before its deadline).
    /// </summary>
    private async Task<bool> TryCompleteAsync(Call call)
    {
        var (batch, sequence, outcome) = (call.Batch, call.Sequence, call.Outcome);
        Exception? failure = null;
        try
        {
            var answer = await call.Answered.ConfigureAwait(false);
            if (TookIt(answer, batch, sequence))
            {
                return true;
            }

            _startAfresh |= answer == PublishOutcome.UnknownPublisher;
        }
        catch (TimeoutException) when (!outcome.IsCompleted)
        {
            ObserveLateFailure(outcome);
            failure = NotAcceptedInTime();
        }
        catch (Exception ex) when (IsTransient(ex))
        {
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        if (failure is null && !batch.Deadline.HasPassed)
        {
            return false;
        }

        Fail(batch, failure ?? NotAcceptedInTime(), attempts: 1);
        Settled(batch);
        return true;
    }

    /// <summary>
    /// Sends one batch alone (everything before it is done with) until the topic takes it, or fails it once its
    /// deadline has passed or the error is not transient. It names the newest batch taken as its previous one, or none
    /// when the topic does not know this publisher (it came back after a crash) or finds it out of order.
    /// </summary>
    private async Task SendAsync(PendingBatch batch, long sequence)
    {
        // A topic that forgot this publisher takes a batch that names no previous one (nothing before it is left out).
        var previous = _startAfresh ? 0 : _lastTaken;
        _startAfresh = false;

        var retryDelay = FirstRetryDelay;
        var attempts = 0;
        Exception failure;
        while (true)
        {
            if (batch.Deadline.HasPassed)
            {
                failure = NotAcceptedInTime();
                break;
            }

            attempts++;
            var call = Start(batch, sequence, previous);
            try
            {
                if (TookIt(await call.WaitAsync(batch.Deadline.Left).ConfigureAwait(false), batch, sequence))
                {
                    return;
                }

                // Alone, with every earlier batch done with: nothing before it is left to wait for.
                previous = 0;
            }
            catch (TimeoutException) when (!call.IsCompleted)
            {
                // The deadline passed with the call still out. Should it land after all, the topic takes it
                // for a copy, since the next batch carries a higher number: it is never delivered out of order.
                ObserveLateFailure(call);
                failure = NotAcceptedInTime();
                break;
            }
            catch (Exception ex) when (IsTransient(ex) && batch.Deadline.Allows(retryDelay))
            {
                // Not taken, or not known to be taken: send it again. The number makes a copy harmless.
                await Task.Delay(Jittered(retryDelay)).ConfigureAwait(false);
                retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, MaxRetryDelay.Ticks));
            }
            catch (Exception ex)
            {
                failure = ex;
                break;
            }
        }

        Fail(batch, failure, attempts);
    }

    /// <summary>
    /// Whether the answer says the topic took the batch (then it is done with). Either way the answer says how many
    /// calls this topic gets at once: several while it stores before it answers, one while it answers at once.
    /// </summary>
    private bool TookIt(PublishOutcome answer, PendingBatch batch, long sequence)
    {
        _callsAllowed = answer == PublishOutcome.Stored ? MaxCallsInFlight : 1;
        if (answer is not (PublishOutcome.Taken or PublishOutcome.Stored))
        {
            return false;
        }

        Taken(batch, sequence);
        return true;
    }

    private TimeoutException NotAcceptedInTime() =>
        new($"not accepted within the PublishTimeout ({options.PublishTimeout.TotalSeconds:0.###} s)");

    /// <summary>A call given up on at its deadline may still fail later: its failure is observed, not left unobserved.</summary>
    private static void ObserveLateFailure(Task call) =>
        _ = call.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    private void Taken(PendingBatch batch, long sequence)
    {
        _lastTaken = Math.Max(_lastTaken, sequence);

        // Counted per batch, before the publishers hear back: no cost per message, no lock.
        PublishScope.RecordSent(topic, batch.Messages.Count, null);
        batch.Accepted.TrySetResult();
        Settled(batch);
    }

    /// <summary>
    /// A refusal by the silo under its own limits (a MaxMessageBytes below this client's) reaches the
    /// publishers as it is: nothing of the batch was accepted. Anything else: the cluster was not there.
    /// </summary>
    private void Fail(PendingBatch batch, Exception failure, int attempts)
    {
        var tries = attempts > 1 ? $" after {attempts} attempts" : "";
        var error = failure as BrokerException ?? new BrokerException(BrokerErrorCode.Unavailable,
            $"Publishing to topic '{topic}' failed{tries}: {ErrorText.FirstLine(failure)}", failure);
        PublishScope.RecordSent(topic, batch.Messages.Count, error);
        batch.Accepted.TrySetException(error);
    }

    /// <summary>The batch is answered for (once): its room goes to the publishes waiting their turn.</summary>
    private void Settled(PendingBatch batch)
    {
        lock (_gate)
        {
            if (!batch.Released)
            {
                batch.Released = true;
                ReleaseLocked(batch);
            }
        }
    }

    /// <summary>A batch's call in flight; <see cref="Answered"/> completes with its answer, or at the batch's deadline.</summary>
    private sealed class Call(PendingBatch batch, long sequence, Task<PublishOutcome> outcome)
    {
        public PendingBatch Batch { get; } = batch;

        public long Sequence { get; } = sequence;

        public Task<PublishOutcome> Outcome { get; } = outcome;

        public Task<PublishOutcome> Answered { get; } = outcome.IsCompleted ? outcome : outcome.WaitAsync(batch.Deadline.Left);
    }

    /// <summary>
    /// Failures of the way to the topic, not of the request: a timeout (the call may or may not have
    /// been taken), a rejection (the topic's silo is dead, shutting down, or forwarding failed while
    /// its grain moved), a lost connection or a busy gateway.
    /// </summary>
    internal static bool IsTransient(Exception ex) =>
        ex is TimeoutException or OrleansMessageRejectionException or Orleans.Runtime.Messaging.ConnectionFailedException or GatewayTooBusyException;

    private static TimeSpan Jittered(TimeSpan delay) => delay * (0.75 + Random.Shared.NextDouble() / 2);

    /// <summary>A publish waiting for room, with the task its publisher holds.</summary>
    private sealed class WaitingTurn(Message message, long size)
    {
        public Message Message { get; } = message;

        public long Size { get; } = size;

        public TaskCompletionSource Accepted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes as the batch it was put in completes.</summary>
        public void Follow(Task batch) => batch.ContinueWith(static (t, state) =>
        {
            var accepted = (TaskCompletionSource)state!;
            if (t.Exception is { } error)
            {
                accepted.TrySetException(error.InnerExceptions);
            }
            else
            {
                accepted.TrySetResult();
            }
        }, Accepted, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private sealed class PendingBatch(Deadline deadline)
    {
        private long _bytes;
        private Immutable<Message[]>? _immutable;

        /// <summary>The messages as one array for the calls (made once: a batch sent again is not copied again).</summary>
        public Immutable<Message[]> Immutable => _immutable ??= Messages.ToArray().AsImmutable();

        public bool Released { get; set; }

        public long Bytes => _bytes;

        public Deadline Deadline { get; } = deadline;

        public List<Message> Messages { get; } = [];

        public TaskCompletionSource Accepted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool IsFullFor(long size) =>
            Messages.Count >= MaxBatchMessages || (Messages.Count > 0 && _bytes + size > MaxBatchBytes);

        public void Add(Message message, long size)
        {
            Messages.Add(message);
            _bytes += size;
        }
    }

    /// <summary>A point on the monotonic clock, or never.</summary>
    private readonly record struct Deadline(long At)
    {
        public static Deadline After(TimeSpan timeout) =>
            new(timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)timeout.TotalMilliseconds);

        public bool HasPassed => At != long.MaxValue && Environment.TickCount64 >= At;

        /// <summary>There is more than <paramref name="wait"/> left.</summary>
        public bool Allows(TimeSpan wait) => At == long.MaxValue || At - Environment.TickCount64 > (long)wait.TotalMilliseconds;

        /// <summary>What is left (zero once passed), or <see cref="Timeout.InfiniteTimeSpan"/>.</summary>
        public TimeSpan Left => At == long.MaxValue
            ? Timeout.InfiniteTimeSpan
            : TimeSpan.FromMilliseconds(Math.Max(0, At - Environment.TickCount64));
    }
}

/// <summary>
/// A publisher's name and the numbers of its batches. One counter for all of a broker's topics: each
/// topic still sees its batches numbered upwards (with gaps), and a batcher made anew for a topic can
/// never reuse a number the topic has seen.
/// </summary>
internal sealed class Publisher
{
    private long _sequence;

    public string Id { get; } = Guid.NewGuid().ToString("N");

    public long NextSequence() => Interlocked.Increment(ref _sequence);
}
