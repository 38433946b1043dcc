namespace OrleansBroker.Server.Durable;

/// <summary>A durable subscription as its topic keeps it: its bound and how far it has settled (for its backlog and the log's trim).</summary>
[GenerateSerializer, Alias("OrleansBroker.DurableRecord")]
internal sealed class DurableRecord
{
    [Id(0)] public long MaxBacklog { get; set; }

    /// <summary>The first sequence number it keeps: every message below it is settled.</summary>
    [Id(1)] public long Floor { get; set; }

    /// <summary>Messages at or above <see cref="Floor"/> it has settled (acked out of order).</summary>
    [Id(2)] public long SettledAbove { get; set; }

    /// <summary>Messages kept for it when the log's last sequence number is <paramref name="last"/>.</summary>
    public long Backlog(long last) => Math.Max(0, last - Floor + 1 - SettledAbove);
}
