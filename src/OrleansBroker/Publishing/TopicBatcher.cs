using OrleansBroker.Diagnostics;
using OrleansBroker.Internal;
using OrleansBroker.Grains;

namespace OrleansBroker.Publishing;

/// <summary>
/// Coalesces one client's concurrent publishes to one topic into batches, with one grain call in
/// flight at a time (as NATS clients coalesce writes): the first message goes out at once, and
/// whatever arrives meanwhile rides in the next call. One call at a time keeps the publisher's order.
/// </summary>
internal sealed class TopicBatcher(ITopicGrain grain, string topic)
{
    // Bounds one grain call well under Orleans' message size limit and keeps a call's latency short.
    internal const int MaxBatchMessages = 4096;
    internal const long MaxBatchBytes = 4 * 1024 * 1024;

    private readonly Lock _gate = new();
    private readonly Queue<PendingBatch> _waiting = new();
    private PendingBatch? _open;
    private bool _sending;
    private Task _lastBatch = Task.CompletedTask;

    /// <summary>Queues the message; the task completes when the topic has accepted its batch.</summary>
    public Task EnqueueAsync(Message message, long size)
    {
        PendingBatch batch;
        var startSending = false;
        lock (_gate)
        {
            if (_open is null || _open.IsFullFor(size))
            {
                _open = new PendingBatch();
                _waiting.Enqueue(_open);
                _lastBatch = _open.Accepted.Task;
            }

            batch = _open;
            batch.Add(message, size);
            if (!_sending)
            {
                _sending = startSending = true;
            }
        }

        if (startSending)
        {
            _ = SendAllAsync();
        }

        return batch.Accepted.Task;
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

    private async Task SendAllAsync()
    {
        while (true)
        {
            PendingBatch batch;
            lock (_gate)
            {
                if (!_waiting.TryDequeue(out batch!))
                {
                    _sending = false;
                    return;
                }

                if (ReferenceEquals(batch, _open))
                {
                    _open = null;
                }
            }

            BrokerException? failure = null;
            try
            {
                await grain.Publish(batch.Messages.ToArray().AsImmutable()).ConfigureAwait(false);
            }
            catch (BrokerException refused)
            {
                // The silo refused the batch under its own limits (a MaxMessageBytes below this
                // client's): nothing of it was accepted, and the publishers learn why.
                batch.Accepted.TrySetException(refused);
            }
            catch (Exception ex)
            {
                failure = new BrokerException(BrokerErrorCode.Unavailable, $"Publishing to topic '{topic}' failed: {ErrorText.FirstLine(ex)}", ex);
            }

            // Counted per batch, before the publishers hear back: no cost per message, no lock.
            PublishScope.RecordSent(topic, batch.Messages.Count, failure);
            if (failure is null)
            {
                batch.Accepted.TrySetResult();
            }
            else
            {
                batch.Accepted.TrySetException(failure);
            }
        }
    }

    private sealed class PendingBatch
    {
        private long _bytes;

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
}
