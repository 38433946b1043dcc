using System.Diagnostics;

namespace OrleansBroker.Diagnostics;

/// <summary>
/// The telemetry of one PublishAsync, the same for both brokers: the <c>publish {topic}</c> span
/// (kind Producer) when something listens, and the trace context written into the message's header
/// when there is one to carry. A struct, and nothing allocated, when no span is started and no
/// Activity is current.
/// </summary>
internal readonly struct PublishScope
{
    private readonly Activity? _activity;
    private readonly Activity? _previous;

    private PublishScope(Message message, long size, Activity? activity, Activity? previous)
    {
        Message = message;
        Size = size;
        _activity = activity;
        _previous = previous;
    }

    /// <summary>What to hand to the broker: the caller's message, or a copy whose header carries the trace context.</summary>
    public Message Message { get; }

    /// <summary>
    /// Its size for batching, the added trace context included. MaxMessageBytes was checked on the
    /// caller's message: a valid message never becomes too large because a trace was running.
    /// </summary>
    public long Size { get; }

    /// <summary>Starts the span (it becomes Activity.Current) and writes the context to carry into the message.</summary>
    public static PublishScope Start(string topic, Message message, long size)
    {
        var previous = Activity.Current;
        var activity = BrokerTelemetry.Source.HasListeners() ? StartActivity(topic, message) : null;
        if ((activity ?? previous) is not { } carried)
        {
            return new PublishScope(message, size, null, null);
        }

        message = TraceContext.Inject(message, carried, ref size);
        return new PublishScope(message, size, activity, previous);
    }

    /// <summary>Counts messages handed to the broker: one per message of each batch sent, failed ones with <c>error.type</c>.</summary>
    public static void RecordSent(string topic, int count, Exception? error)
    {
        if (!BrokerTelemetry.SentMessages.Enabled)
        {
            return;
        }

        BrokerTelemetry.SentMessages.Add(count, MessagingAttributes.MeasurementTags(topic, MessagingAttributes.Publish, group: null, error));
    }

    /// <summary>Ends the span now, failed when <paramref name="error"/> is set; Activity.Current is the caller's again.</summary>
    public void End(Exception? error)
    {
        if (_activity is not null)
        {
            Stop(_activity, error);
        }
    }

    /// <summary>
    /// Gives the caller back its Activity.Current at once and ends the span when the broker has
    /// accepted the message (or failed to), so the span measures what the publisher waits for.
    /// </summary>
    public void EndWhen(Task accepted)
    {
        if (_activity is null)
        {
            return;
        }

        Activity.Current = _previous;
        if (accepted.IsCompleted)
        {
            Stop(_activity, accepted.Exception?.InnerException);
            return;
        }

        accepted.ContinueWith(static (task, state) => Stop((Activity)state!, task.Exception?.InnerException), _activity,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private static Activity? StartActivity(string topic, Message message)
    {
        // A traceparent the caller wrote is the message's creation context: the span links to it,
        // and the header keeps it, so handlers join the caller's trace.
        var created = TraceContext.Extract(message);
        ActivityLink[]? links = created == default ? null : [new ActivityLink(created)];
        var tags = new TagList
        {
            { MessagingAttributes.System, MessagingAttributes.SystemValue },
            { MessagingAttributes.OperationType, MessagingAttributes.Send },
            { MessagingAttributes.OperationName, MessagingAttributes.Publish },
            { MessagingAttributes.DestinationName, topic },
            { MessagingAttributes.BodySize, message.Body.Length },
        };
        return BrokerTelemetry.Source.StartActivity($"{MessagingAttributes.Publish} {topic}", ActivityKind.Producer,
            parentContext: default, tags, links);
    }

    private static void Stop(Activity activity, Exception? error)
    {
        if (error is not null)
        {
            BrokerTelemetry.Fail(activity, error);
        }

        activity.Stop();
    }
}
