using OrleansBroker.Grains;

namespace OrleansBroker.Server.Durable;

/// <summary>What a durable subscription keeps in grain storage, written on a cadence (see DurableGrain).</summary>
[GenerateSerializer, Alias("OrleansBroker.DurableState")]
internal sealed class DurableState
{
    [Id(0)] public bool Exists { get; set; }

    /// <summary>Every message below it is acked or dead-lettered.</summary>
    [Id(1)] public long Floor { get; set; }

    [Id(2)] public DurableSettings Settings { get; set; } = DurableSettings.Default;

    [Id(3)] public long Redelivered { get; set; }

    [Id(4)] public long DeadLettered { get; set; }

    /// <summary>Deliveries made of the messages above the floor that were delivered at least once, so MaxDeliver survives a crash.</summary>
    [Id(5)] public Dictionary<long, int>? Deliveries { get; set; }
}
