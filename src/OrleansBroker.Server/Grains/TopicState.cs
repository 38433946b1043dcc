namespace OrleansBroker.Server.Grains;

/// <summary>What a topic keeps across deactivation: its subscriptions (id to queue, null for broadcast) and its counters.</summary>
[GenerateSerializer, Alias("OrleansBroker.TopicState")]
internal sealed class TopicState
{
    [Id(0)] public Dictionary<string, string?> Subscriptions { get; set; } = new(StringComparer.Ordinal);
    [Id(2)] public long Published { get; set; }
    [Id(3)] public long Delivered { get; set; }
    [Id(4)] public long Dropped { get; set; }

    /// <summary>Each subscription's stream position, written on a graceful deactivation only.</summary>
    [Id(5)] public Dictionary<string, StreamPosition>? Handover { get; set; }

    /// <summary>The newest batch number taken from each recent publisher, written on a graceful deactivation only.</summary>
    [Id(6)] public Dictionary<string, long>? PublisherHandover { get; set; }

    /// <summary>The topic's durable subscriptions (queue to record); null when none.</summary>
    [Id(7)] public Dictionary<string, Durable.DurableRecord>? Durables { get; set; }
}
