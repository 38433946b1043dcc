namespace OrleansBroker.Durable;

/// <summary>
/// Each topic's append-only log of the messages its durable subscriptions keep (DESIGN.md, "Durable
/// subscriptions"). The topic appends a batch before its publish completes; the durable subscriptions
/// read from their ack floor after a crash; the topic trims below the lowest ack floor.
/// Sequence numbers start at 1 per topic, are given by the store, and never go back, even after a trim.
/// </summary>
public interface IDurableLog
{
    /// <summary>
    /// Appends the batch in one store round trip; returns the sequence number of its first message
    /// (the others follow one by one). Complete means stored: a crash of the caller loses nothing.
    /// </summary>
    Task<long> AppendAsync(string topic, IReadOnlyList<Message> messages, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="max"/> kept messages from sequence <paramref name="from"/> on, in order (trimmed ones are skipped).</summary>
    Task<IReadOnlyList<LoggedMessage>> ReadAsync(string topic, long from, int max, CancellationToken cancellationToken = default);

    /// <summary>The sequence number of the topic's last appended message; 0 when nothing was ever appended.</summary>
    Task<long> LastAsync(string topic, CancellationToken cancellationToken = default);

    /// <summary>Drops the messages below <paramref name="floor"/>; a floor at or below an earlier one changes nothing.</summary>
    Task TrimAsync(string topic, long floor, CancellationToken cancellationToken = default);

    /// <summary>Drops the topic's whole log; its numbering starts again at 1.</summary>
    Task DeleteAsync(string topic, CancellationToken cancellationToken = default);
}

/// <summary>A message as the log keeps it, with its sequence number in the topic.</summary>
[GenerateSerializer, Immutable, Alias("OrleansBroker.LoggedMessage")]
public readonly record struct LoggedMessage([property: Id(0)] long Sequence, [property: Id(1)] Message Message);
