namespace OrleansBroker.Benchmarks;

/// <summary>The orchestrator's command line: --quick, --size N, --json FILE, --durable-only.</summary>
internal sealed record BenchmarkOptions(bool Quick, int Size, string? Json, bool DurableOnly = false)
{
    public TimeSpan ScenarioTimeout => Quick ? TimeSpan.FromSeconds(30) : TimeSpan.FromSeconds(120);

    /// <summary>Messages per throughput scenario (fan-out divides them among subscribers' copies).</summary>
    public long Messages(string peer) => peer == Roles.Peers.MemoryStreams ? (Quick ? 10_000 : 50_000) : (Quick ? 200_000 : 1_000_000);

    /// <summary>Messages per durable throughput scenario: each stored, delivered and acked.</summary>
    public long DurableMessages => Quick ? 50_000 : 200_000;

    /// <summary>
    /// Untimed messages a durable throughput scenario publishes first, through the same processes,
    /// all acked before the timed part starts: the .NET JIT's warm-up (every peer's client is .NET).
    /// </summary>
    public long DurableWarmup => 20_000;

    /// <summary>How long a durable latency scenario publishes untimed at its rate first, all acked before the timed part.</summary>
    public TimeSpan LatencyWarmup => TimeSpan.FromSeconds(1.5);

    /// <summary>How long a latency scenario publishes at its fixed rate.</summary>
    public TimeSpan LatencyDuration => Quick ? TimeSpan.FromSeconds(3) : TimeSpan.FromSeconds(10);
}
