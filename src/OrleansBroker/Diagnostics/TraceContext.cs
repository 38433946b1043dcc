using System.Diagnostics;
using System.Text;

namespace OrleansBroker.Diagnostics;

/// <summary>
/// W3C trace context (<c>traceparent</c>, <c>tracestate</c>) in a message's header. Written by hand
/// rather than through <see cref="DistributedContextPropagator"/>, whose formats may add baggage of
/// any size: what the broker adds to a message must stay small and bounded.
/// </summary>
internal static class TraceContext
{
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";

    /// <summary>W3C asks carriers to keep at least 512 characters of tracestate; a longer one is not carried.</summary>
    public const int MaxTraceStateBytes = 512;

    /// <summary>
    /// The most the broker adds to a message, keys included: the caller's MaxMessageBytes is checked
    /// before, so a limit enforced further on must leave this much room.
    /// </summary>
    public const int MaxAddedBytes = 11 + 55 + 10 + MaxTraceStateBytes;

    /// <summary>
    /// The message with <paramref name="activity"/>'s context added to its header, sharing its body;
    /// the message itself when the caller set a traceparent or the activity has no W3C id. A header
    /// key the caller set is never changed. <paramref name="size"/> grows by what was added.
    /// </summary>
    public static Message Inject(Message message, Activity activity, ref long size)
    {
        if (activity.IdFormat != ActivityIdFormat.W3C || message.Header.ContainsKey(TraceParent))
        {
            return message;
        }

        // A W3C Activity.Id is the traceparent itself ("00-trace-span-flags"), already built.
        var traceParent = activity.Id!;
        var traceState = activity.TraceStateString;
        var traceStateBytes = traceState is null ? 0 : Encoding.UTF8.GetByteCount(traceState);
        if (traceState is null || traceStateBytes > MaxTraceStateBytes || message.Header.ContainsKey(TraceState))
        {
            size += TraceParent.Length + traceParent.Length;
            return message.WithHeader(TraceParent, traceParent);
        }

        size += TraceParent.Length + traceParent.Length + TraceState.Length + traceStateBytes;
        return message.WithHeader(TraceParent, traceParent, TraceState, traceState);
    }

    /// <summary>The context a publisher wrote into the header; default when there is none or it does not parse.</summary>
    public static ActivityContext Extract(Message message)
    {
        var header = message.Header;
        if (header.Count == 0 || !header.TryGetValue(TraceParent, out var traceParent))
        {
            return default;
        }

        header.TryGetValue(TraceState, out var traceState);
        return ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : default;
    }
}
