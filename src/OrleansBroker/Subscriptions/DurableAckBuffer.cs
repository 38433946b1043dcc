using Microsoft.Extensions.Logging;
using OrleansBroker.Grains;

namespace OrleansBroker.Subscriptions;

/// <summary>
/// A durable member's acks and naks, coalesced into one call to its durable grain at a time: whatever
/// settles while a call is out goes in the next one (NATS' write coalescing), so a fast handler costs one
/// grain call per batch of acks, not per message. An ack returns once it is queued; one lost with a
/// failed call only means a redelivery (at least once). <see cref="FlushAsync"/> waits until all queued went out.
/// </summary>
internal sealed partial class DurableAckBuffer(IDurableGrain grain, string memberId, ILogger logger) : IAckSink
{
    // One call carries at most this many; past twice as many queued, an ack waits for the calls to catch up.
    private const int MaxPerCall = 4096;

    private readonly Lock _gate = new();
    private List<DeliveryTag> _acks = [];
    private List<DurableNak> _naks = [];
    private List<DeliveryTag> _begun = [];
    private Task _flushing = Task.CompletedTask;
    private bool _running;

    public ValueTask AckAsync(DeliveryTag tag, CancellationToken cancellationToken) =>
        Queue(() => _acks.Add(tag));

    public ValueTask NakAsync(DeliveryTag tag, TimeSpan? delay, CancellationToken cancellationToken) =>
        Queue(() => _naks.Add(new DurableNak(tag, delay)));

    /// <summary>The member's handler begins this delivery: its AckWait starts (told with the next call).</summary>
    public void Begin(DeliveryTag tag) => _ = Queue(() => _begun.Add(tag));

    /// <summary>Completes when everything queued so far has been sent (or its call failed).</summary>
    public Task FlushAsync()
    {
        lock (_gate)
        {
            return _flushing;
        }
    }

    private ValueTask Queue(Action add)
    {
        Task flushing;
        bool backlogged;
        lock (_gate)
        {
            add();
            if (!_running)
            {
                _running = true;
                _flushing = Task.Run(FlushLoopAsync);
            }

            flushing = _flushing;
            backlogged = _acks.Count + _naks.Count + _begun.Count > 2 * MaxPerCall;
        }

        return backlogged ? new ValueTask(flushing) : default;
    }

    private async Task FlushLoopAsync()
    {
        while (true)
        {
            DeliveryTag[] begun, acks;
            DurableNak[] naks;
            lock (_gate)
            {
                if (_acks.Count == 0 && _naks.Count == 0 && _begun.Count == 0)
                {
                    _running = false;
                    return;
                }

                begun = Take(ref _begun);
                acks = Take(ref _acks);
                naks = Take(ref _naks);
            }

            // A message begun and settled since the last call needs no deadline: only its ack or nak goes.
            if (begun.Length > 0 && acks.Length + naks.Length > 0)
            {
                var settled = acks.Concat(naks.Select(n => n.Tag)).ToHashSet();
                begun = Array.FindAll(begun, t => !settled.Contains(t));
            }

            try
            {
                await grain.Settle(memberId, begun, acks, naks).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Unsettled is as good as nakked: the durable subscription redelivers after AckWait.
                LogWarningSettleFailed(logger, ex, acks.Length, naks.Length);
            }
        }
    }

    private static T[] Take<T>(ref List<T> queued)
    {
        if (queued.Count <= MaxPerCall)
        {
            var all = queued.ToArray();
            queued.Clear();
            return all;
        }

        var first = queued.GetRange(0, MaxPerCall).ToArray();
        queued.RemoveRange(0, MaxPerCall);
        return first;
    }

    [LoggerMessage(20, LogLevel.Warning, "Sending {Acks} ack(s) and {Naks} nak(s) to a durable subscription failed; those messages are redelivered after AckWait")]
    private static partial void LogWarningSettleFailed(ILogger logger, Exception exception, int acks, int naks);
}
