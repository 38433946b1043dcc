namespace OrleansBroker.Server.Grains;

/// <summary>
/// Stream numbers come from the silos' clocks (ticks), each above the last. One far ahead of this
/// silo's clock cannot have come from a topic: refusing it keeps the numbering from overflowing and
/// one forged call from poisoning a subscription's stream.
/// </summary>
internal static class StreamNumbers
{
    /// <summary>How far ahead of this silo's clock a stream number may be (clock skew between silos, plus many restarts).</summary>
    public static readonly TimeSpan MaxAhead = TimeSpan.FromDays(1);

    public static bool IsPlausible(long stream, DateTime now) => stream >= 0 && stream <= now.Ticks + MaxAhead.Ticks;
}
