using Microsoft.Extensions.Logging;
using OrleansBroker.Grains;
using OrleansBroker.Internal;
using OrleansBroker.Server.Durable;
using OrleansBroker.Subscriptions;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// A SubscriberGrain as a member of a durable subscription: it joins the durable grain (not the topic),
/// queues what the durable grain sends it in sequence order (a redelivery replaces an older copy), and
/// delivers it to the client with its delivery tags. Nothing is dropped: the durable grain bounds what is
/// out with MaxAckPending, and whatever this grain cannot deliver stays out until AckWait brings it back.
/// </summary>
internal sealed partial class SubscriberGrain
{
    private readonly DurableMemberQueue _durableQueue = new();
    private DeliveryTag[]? _inFlightTags;

    // Deliveries that came ahead of their turn (Orleans may reorder one-way calls), held for a short gap.
    private static readonly TimeSpan DurableGapTimeout = TimeSpan.FromMilliseconds(200);
    private readonly SortedDictionary<long, DurableDelivery> _durableHeld = [];
    private long _durableSender;
    private long _durableNext;
    private DateTime _durableGapSince;
    private IGrainTimer? _durableGapTimer;

    private IDurableFeed Durable(SubscriptionSpec spec) => GrainFactory.GetGrain<IDurableFeed>(DurableKey.Of(spec.Topic, spec.Queue!));

    public Task DeliverDurable(DurableDelivery delivery)
    {
        if (delivery is not { Topic: not null, Queue: not null, Tags: not null, Messages: not null }
            || delivery.Tags.Length != delivery.Messages.Length || Array.Exists(delivery.Messages, m => m is null))
        {
            LogWarningImplausibleBatch(logger, Id);
            return Task.CompletedTask;
        }

        if (Spec is not { Durable: not null } spec || _ending is not null || spec.Topic != delivery.Topic || spec.Queue != delivery.Queue)
        {
            // Not (or no longer) a member: the durable grain gives them to the others at once.
            var sender = GrainFactory.GetGrain<IDurableFeed>(DurableKey.Of(delivery.Topic, delivery.Queue));
            return _ending is not null ? sender.Release(Id, delivery.Tags.Select(t => t.Sequence).ToArray()) : sender.Leave(Id);
        }

        if (delivery.Number < 1 || delivery.Sender != _durableSender)
        {
            // Unnumbered, or from a new activation of the durable grain: what was held goes first. A sender numbers
            // its deliveries to a member from 1, and Orleans may hand its first two over in either order: number 2
            // must wait for 1, or the member would deliver a later slice first (a member joined to a durable grain
            // that numbered it before, as after this grain moved, waits DurableGapTimeout once).
            ReleaseHeld();
            _durableSender = delivery.Sender;
            _durableNext = Math.Min(delivery.Number, 1);
        }

        if (delivery.Number > _durableNext)
        {
            if (_durableHeld.Count == 0)
            {
                _durableGapSince = DateTime.UtcNow;
                _durableGapTimer ??= this.RegisterGrainTimer(CloseDurableGapAsync, new GrainTimerCreationOptions(DurableGapTimeout, DurableGapTimeout) { Interleave = true });
            }

            _durableHeld[delivery.Number] = delivery;
            return Task.CompletedTask;
        }

        Queue(delivery);
        while (_durableHeld.Remove(_durableNext, out var next))
        {
            Queue(next);
        }

        StartDurablePump();
        return Task.CompletedTask;
    }

    /// <summary>A gap still open after its timeout is given up on: what was held goes out, in order.</summary>
    private Task CloseDurableGapAsync(CancellationToken cancellationToken)
    {
        if (_durableHeld.Count > 0 && DateTime.UtcNow - _durableGapSince >= DurableGapTimeout)
        {
            ReleaseHeld();
            StartDurablePump();
        }

        if (_durableHeld.Count == 0)
        {
            _durableGapTimer?.Dispose();
            _durableGapTimer = null;
        }

        return Task.CompletedTask;
    }

    private void ReleaseHeld()
    {
        foreach (var held in _durableHeld.Values.ToList())
        {
            Queue(held);
        }

        _durableHeld.Clear();
    }

    private void StartDurablePump()
    {
        if (_pump is null && _durableQueue.Count > 0 && !_clientClosed)
        {
            _pump = PumpAsync();
        }
    }

    /// <summary>Queues a delivery's messages by sequence (a redelivery replaces an older copy); the next number is the one after it.</summary>
    private void Queue(DurableDelivery delivery)
    {
        _durableNext = Math.Max(_durableNext, delivery.Number + 1);
        for (var i = 0; i < delivery.Messages.Length; i++)
        {
            var message = delivery.Messages[i];
            var tag = delivery.Tags[i];
            if (!_durableQueue.Holds(tag.Sequence) && _durableQueue.Bytes + _inFlightBytes + message.SizeInBytes() > _maxBytes)
            {
                // Past the byte budget: it stays out to this member and comes back after AckWait.
                LogWarningDurableOverBudget(logger, Id, tag.Sequence);
                continue;
            }

            _durableQueue.Put(message, tag);
        }
    }

    public Task EndDurable()
    {
        if (Spec is not { Durable: not null } || _ending is not null)
        {
            return Task.CompletedTask;
        }

        // The durable grain is gone: the client ends its subscription, and this member leaves nothing behind.
        _durableDeleted = true;
        if (state.State.Observer is { } observer)
        {
            _ = observer.OnEnded();
        }

        return EndAsync([]);
    }

    private bool _durableDeleted;

    private async Task<bool> JoinDurableAsync(SubscriptionSpec spec, bool create) =>
        await Durable(spec).Join(Id, create ? spec.Durable : null, create);

    /// <summary>Leaves the durable subscription (its unacked messages go to the other members), then forgets what was queued here.</summary>
    private async Task LeaveDurableAsync(SubscriptionSpec spec)
    {
        // The pump stops at its next turn, as it sees the ending (a flag of its own would outlive a re-attach).
        if (_pump is { } pump)
        {
            await pump;
        }

        ClearDurableQueue();
        if (_durableDeleted)
        {
            return;
        }

        try
        {
            await Durable(spec).Leave(Id);
        }
        catch (Exception ex)
        {
            // Its messages stay out to this member until AckWait brings them back.
            LogWarningLeaveFailed(logger, ex, Id, spec.Topic);
        }
    }

    /// <summary>What is queued here goes back to the durable grain at once (the grain deactivates).</summary>
    private async Task ReleaseDurableQueueAsync()
    {
        if (_durableQueue.Count + _durableHeld.Count == 0 || Spec is not { Durable: not null } spec)
        {
            return;
        }

        var sequences = _durableQueue.Sequences.Concat(_durableHeld.Values.SelectMany(d => d.Tags.Select(t => t.Sequence))).ToArray();
        ClearDurableQueue();
        try
        {
            await Durable(spec).Release(Id, sequences);
        }
        catch (Exception ex)
        {
            LogWarningLeaveFailed(logger, ex, Id, spec.Topic);
        }
    }

    private void ClearDurableQueue()
    {
        _durableQueue.Clear();
        _durableHeld.Clear();
        _durableGapTimer?.Dispose();
        _durableGapTimer = null;
    }

    /// <summary>The lowest sequences queued, up to a delivery's size; their bytes count as in flight until the client has them.</summary>
    private (Message[] Batch, DeliveryTag[] Tags) TakeDurableBatch()
    {
        var taken = _durableQueue.Take(MaxDeliveryMessages, MaxDeliveryBytes, out var bytes);
        _inFlightBytes = bytes;
        return taken;
    }

    /// <summary>A durable member's settings, as the client library checks them.</summary>
    private static void ValidateDurable(string? queue, DurableSettings durable)
    {
        ArgumentNullException.ThrowIfNull(durable);
        Validation.ValidateSubscribeOptions(new SubscribeOptions
        {
            Queue = queue,
            Durable = true,
            AckWait = durable.AckWait,
            MaxDeliver = durable.MaxDeliver,
            MaxAckPending = durable.MaxAckPending,
            MaxBacklog = durable.MaxBacklog,
        });
    }

    [LoggerMessage(44, LogLevel.Warning, "Subscription {Id}: delivering {Count} durable message(s) to the client failed; they come back after AckWait")]
    private static partial void LogWarningDurableDeliveryFailed(ILogger logger, Exception exception, string id, int count);

    [LoggerMessage(45, LogLevel.Warning, "Subscription {Id}: durable message {Sequence} is past the subscription's byte budget; it comes back after AckWait")]
    private static partial void LogWarningDurableOverBudget(ILogger logger, string id, long sequence);
}
