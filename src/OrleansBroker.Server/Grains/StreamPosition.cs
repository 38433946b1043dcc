namespace OrleansBroker.Server.Grains;

/// <summary>
/// Where a subscription's stream had got to: its number, the next batch's sequence and the messages of the
/// stream's batches before it. Written when a grain hands over on a graceful deactivation, so that its next
/// activation carries on the same stream (no batch in flight is taken for a stale one, and a batch lost on
/// the way is counted from the next one's running count); read once and cleared. <see cref="CountedFrom"/>
/// (a subscriber's): a batch from there on that arrives late was counted already, with the gap it left.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansBroker.StreamPosition")]
internal sealed record StreamPosition(
    [property: Id(0)] long Stream,
    [property: Id(1)] long Next,
    [property: Id(2)] long SentBefore = 0,
    [property: Id(3)] long CountedFrom = 0);
