namespace OrleansBroker.Server.Grains;

/// <summary>
/// Where a subscription's stream had got to: its number and the next batch's sequence. Written
/// when a grain hands over on a graceful deactivation, so that its next activation carries on
/// the same stream and no batch in flight is taken for a stale one; read once and cleared.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansBroker.StreamPosition")]
internal sealed record StreamPosition([property: Id(0)] long Stream, [property: Id(1)] long Next);
