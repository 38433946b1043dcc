using System.Diagnostics.Metrics;
using OrleansBroker.Diagnostics;

namespace OrleansBroker.Server.Diagnostics;

/// <summary>
/// What the silos count, on the library's <c>OrleansBroker</c> meter: messages topics took in, handed
/// to subscriptions, and dropped, by why. No topic tag: topics per entity would make the series
/// unbounded; <c>TopicInfo</c> has the per-topic figures.
/// </summary>
internal static class SiloTelemetry
{
    public const string DropReasonTag = "orleansbroker.drop.reason";

    /// <summary>A subscriber dropped them: its MaxPending or byte budget was full, its client failed, they came too late, or its silo stopped first.</summary>
    public const string DroppedBySubscriber = "subscriber";

    /// <summary>A leaving subscription handed them back, and no member of its queue group remained.</summary>
    public const string NoMemberLeft = "no_member";

    /// <summary>Every member of the queue group was full.</summary>
    public const string GroupFull = "group_full";

    public static readonly Counter<long> PublishedMessages = BrokerTelemetry.Meter.CreateCounter<long>(
        "orleansbroker.silo.published.messages", "{message}", "Messages topics accepted.");

    public static readonly Counter<long> DeliveredMessages = BrokerTelemetry.Meter.CreateCounter<long>(
        "orleansbroker.silo.delivered.messages", "{message}", "Messages handed to subscriptions (one per subscription reached).");

    public static readonly Counter<long> DroppedMessages = BrokerTelemetry.Meter.CreateCounter<long>(
        "orleansbroker.silo.dropped.messages", "{message}", "Messages handed to a subscription but not delivered.");

    public static readonly Counter<long> Redelivered = BrokerTelemetry.Meter.CreateCounter<long>(
        "orleansbroker.silo.redelivered.messages", "{message}", "Durable messages delivered again (not acked in time, nakked, or handed over).");

    public static readonly Counter<long> DeadLettered = BrokerTelemetry.Meter.CreateCounter<long>(
        "orleansbroker.silo.dead_lettered.messages", "{message}", "Durable messages moved to their dead-letter topic after MaxDeliver deliveries.");

    public static readonly Counter<long> BacklogRefused = BrokerTelemetry.Meter.CreateCounter<long>(
        "orleansbroker.silo.backlog_refused.messages", "{message}", "Messages refused because a durable subscription of their topic held MaxBacklog.");

    public static void Dropped(long count, string reason)
    {
        if (DroppedMessages.Enabled)
        {
            DroppedMessages.Add(count, new KeyValuePair<string, object?>(DropReasonTag, reason));
        }
    }
}
