using Microsoft.Extensions.Logging;
using OrleansBroker.Grains;
using OrleansBroker.Internal;
using OrleansBroker.Server.Diagnostics;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// The topic-to-subscriber leg. Each batch goes out as a call the topic does not wait for; it only watches
/// for the call to be rejected on the way. A silo that stops rejects calls to the grains it had (and would
/// drop one-way calls silently) until the directory names their next activations, so a rejected batch is
/// sent again, under its own number: the subscriber's gate puts it back in order. A batch that cannot be
/// sent again is counted, by the subscriber's gate (from the next batch's running count) or here when its
/// subscription left.
/// </summary>
internal sealed partial class TopicGrain
{
    // Rejections come while the directory still names a stopping silo's activation: seconds at most. The backoff stays
    // well under the subscriber's gap timeout, so a batch sent again arrives while the subscriber still waits for it.
    private static readonly TimeSpan FirstRedeliveryAfter = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan MaxRedeliveryAfter = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan RedeliverFor = TimeSpan.FromSeconds(10);

    // A deactivation waits this long for the answers of the batches still out, so a rejected one is sent again.
    private static readonly TimeSpan AnswersWait = TimeSpan.FromSeconds(2);

    private int _unanswered;
    private TaskCompletionSource? _allAnswered;

    // Set once the deactivation has written its handover: what is sent or counted after it would not be seen.
    private bool _handedOver;

    private void Send(Target target, Message[] messages)
    {
        state.State.Delivered += messages.Length;
        SiloTelemetry.DeliveredMessages.Add(messages.Length);
        var batch = new DeliveryBatch(Topic, target.Stream, target.NextSequence++, messages, _from.Publisher, _from.Sequence, target.SentMessages);
        target.SentMessages += messages.Length;
        Deliver(target, batch, firstRejected: null, FirstRedeliveryAfter);
    }

    // The clock is read at the first rejection, not for every batch sent.
    private void Deliver(Target target, DeliveryBatch batch, DateTime? firstRejected, TimeSpan nextWait)
    {
        _unanswered++;
        _ = WatchAsync(target, batch, firstRejected, nextWait);
    }

    private async Task WatchAsync(Target target, DeliveryBatch batch, DateTime? firstRejected, TimeSpan nextWait)
    {
        try
        {
            await target.Grain.Deliver(batch);
            target.Answered(batch);
        }
        catch (OrleansMessageRejectionException ex) when (ex is not SiloUnavailableException)
        {
            // Rejected before the subscriber saw it (a stopping silo's "Silo stopping"). Not a SiloUnavailableException:
            // Orleans also fails a call with it when the target silo died after the call reached it, and a batch the dead
            // activation may have taken must not go to the next one as well.
            LogDebugRedelivering(logger, Topic, target.Id, batch.Sequence, ErrorText.FirstLine(ex));
            // Awaited, so a deactivation waiting for the answers waits for the batch sent again too.
            await RedeliverAsync(target, batch, firstRejected ?? DateTime.UtcNow, nextWait);
        }
        catch (Exception ex)
        {
            // The subscriber's silo died, or the subscriber failed the call, or gave no answer in time: the gate of
            // its (next) activation counts what it misses, from the next batch's running count.
            LogDebugDeliveryFailed(logger, Topic, target.Id, batch.Sequence, ErrorText.FirstLine(ex));
        }
        finally
        {
            if (--_unanswered == 0)
            {
                _allAnswered?.TrySetResult();
            }
        }
    }

    private async Task RedeliverAsync(Target target, DeliveryBatch batch, DateTime firstRejected, TimeSpan wait)
    {
        await Task.Delay(wait);
        var current = _targets.TryGetValue(target.Id, out var listed) && listed == target && target.Stream == batch.Stream;

        // A later batch of the stream was taken: the subscriber holds the gap this one left, and counts it if it gives up.
        var laterTaken = batch.Stream == target.Stream && target.AnsweredThrough > batch.Sequence;
        if (_handedOver || (laterTaken && (!current || DateTime.UtcNow - firstRejected >= SequenceGate.GapTimeout)))
        {
            LogDebugRedeliveryStopped(logger, Topic, target.Id, batch.Sequence, _handedOver);
        }
        else if (!current)
        {
            // The subscription left, or started a new stream, with nothing after this batch: its group takes it, or it is counted.
            if (!GiveToGroup(target.Queue, batch.Messages))
            {
                LogWarningRejectedAfterLeaving(logger, Topic, target.Id, batch.Messages.Length);
            }
        }
        else if (DateTime.UtcNow - firstRejected > RedeliverFor)
        {
            LogWarningRedeliveryGivenUp(logger, Topic, target.Id, batch.Messages.Length, RedeliverFor);
        }
        else
        {
            Deliver(target, batch, firstRejected, TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, MaxRedeliveryAfter.Ticks)));
        }
    }

    /// <summary>On deactivation: lets the batches still out be answered (and a rejected one sent again), briefly.</summary>
    private async Task WaitForAnswersAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + AnswersWait;
        while (_unanswered > 0 && DateTime.UtcNow < deadline && !cancellationToken.IsCancellationRequested)
        {
            var allAnswered = new TaskCompletionSource();
            _allAnswered = allAnswered;
            // Redeliveries run on this grain: the wait yields to them.
            await allAnswered.Task.WaitAsync(TimeSpan.FromTicks(Math.Max(0, (deadline - DateTime.UtcNow).Ticks)), cancellationToken)
                .ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.SuppressThrowing);
        }

        _allAnswered = null;
        _handedOver = true;
    }

    [LoggerMessage(28, LogLevel.Debug, "Topic '{Topic}': batch {Sequence} to subscription {Id} was rejected on the way ({Reason}); sending it again")]
    private static partial void LogDebugRedelivering(ILogger logger, string topic, string id, long sequence, string reason);

    [LoggerMessage(29, LogLevel.Debug, "Topic '{Topic}': batch {Sequence} to subscription {Id} failed ({Reason}); its subscriber counts what never arrived")]
    private static partial void LogDebugDeliveryFailed(ILogger logger, string topic, string id, long sequence, string reason);

    [LoggerMessage(25, LogLevel.Warning, "Topic '{Topic}': subscription {Id} left before {Count} message(s) rejected on the way to it could be sent again, and no queue-group member remains to take them; dropped")]
    private static partial void LogWarningRejectedAfterLeaving(ILogger logger, string topic, string id, int count);

    [LoggerMessage(18, LogLevel.Debug, "Topic '{Topic}': batch {Sequence} to subscription {Id} is not sent again (deactivating: {Deactivating}); its subscriber counts it with the gap it left")]
    private static partial void LogDebugRedeliveryStopped(ILogger logger, string topic, string id, long sequence, bool deactivating);

    [LoggerMessage(19, LogLevel.Warning, "Topic '{Topic}': {Count} message(s) to subscription {Id} were still rejected on the way after {Period}; given up (its subscriber counts them when a later batch reaches it)")]
    private static partial void LogWarningRedeliveryGivenUp(ILogger logger, string topic, string id, int count, TimeSpan period);
}
