using System.Diagnostics;

namespace OrleansBroker.Diagnostics;

/// <summary>
/// The telemetry of one handler run, the same for both brokers: the <c>process {topic}</c> span
/// (kind Consumer) whose parent is the context the publisher wrote into the header, and the consumed
/// counter and duration histogram. Nothing is allocated when nobody listens.
/// </summary>
internal readonly struct ProcessScope : IDisposable
{
    private readonly Activity? _activity;
    private readonly string _topic;
    private readonly string? _queue;
    private readonly long _startedAt;

    private ProcessScope(Activity? activity, string topic, string? queue, long startedAt)
    {
        _activity = activity;
        _topic = topic;
        _queue = queue;
        _startedAt = startedAt;
    }

    /// <summary>Starts the span, which becomes Activity.Current for the handler.</summary>
    public static ProcessScope Start(string topic, string? queue, Message message)
    {
        var activity = BrokerTelemetry.Source.HasListeners() ? StartActivity(topic, queue, message) : null;
        var startedAt = BrokerTelemetry.ProcessDuration.Enabled ? Stopwatch.GetTimestamp() : 0;
        return new ProcessScope(activity, topic, queue, startedAt);
    }

    /// <summary>Records how the handler ended: the span's status, one consumed message, its duration.</summary>
    public void Completed(Exception? error)
    {
        if (error is not null && _activity is not null)
        {
            BrokerTelemetry.Fail(_activity, error);
        }

        if (!BrokerTelemetry.ConsumedMessages.Enabled && _startedAt == 0)
        {
            return;
        }

        var tags = MessagingAttributes.MeasurementTags(_topic, MessagingAttributes.Process, _queue, error);
        BrokerTelemetry.ConsumedMessages.Add(1, tags);
        if (_startedAt != 0)
        {
            BrokerTelemetry.ProcessDuration.Record(Stopwatch.GetElapsedTime(_startedAt).TotalSeconds, tags);
        }
    }

    /// <summary>Ends the span.</summary>
    public void Dispose() => _activity?.Dispose();

    private static Activity? StartActivity(string topic, string? queue, Message message)
    {
        var tags = new TagList
        {
            { MessagingAttributes.System, MessagingAttributes.SystemValue },
            { MessagingAttributes.OperationType, MessagingAttributes.Process },
            { MessagingAttributes.OperationName, MessagingAttributes.Process },
            { MessagingAttributes.DestinationName, topic },
            { MessagingAttributes.BodySize, message.Body.Length },
        };
        if (queue is not null)
        {
            tags.Add(MessagingAttributes.ConsumerGroupName, queue);
        }

        // No context in the header: a root span (the dispatch loop has no Activity.Current of its own).
        return BrokerTelemetry.Source.StartActivity($"{MessagingAttributes.Process} {topic}", ActivityKind.Consumer,
            TraceContext.Extract(message), tags);
    }
}
