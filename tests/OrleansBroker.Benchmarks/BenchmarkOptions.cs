namespace OrleansBroker.Benchmarks;

/// <summary>The orchestrator's command line: --quick, --size N, --json FILE.</summary>
internal sealed record BenchmarkOptions(bool Quick, int Size, string? Json)
{
    public TimeSpan ScenarioTimeout => Quick ? TimeSpan.FromSeconds(30) : TimeSpan.FromSeconds(120);

    /// <summary>Messages per throughput scenario (fan-out divides them among subscribers' copies).</summary>
    public long Messages(string peer) => peer == Roles.Peers.MemoryStreams ? (Quick ? 10_000 : 50_000) : (Quick ? 200_000 : 1_000_000);
}
