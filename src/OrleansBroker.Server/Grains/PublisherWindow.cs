using OrleansBroker.Grains;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// The newest batch number a topic took from each recent publisher, so that a batch the publisher
/// sent again (its call failed or timed out, but the topic had taken it) is not delivered twice, and
/// a batch the publisher gave up on cannot land after later ones. Publishers send one batch at a time
/// per topic, numbered 1, 2, ..., so anything at or below the newest is a copy.
/// Bounded: at most <paramref name="maxPublishers"/> publishers (the least recently seen is forgotten first).
/// </summary>
internal sealed class PublisherWindow(int maxPublishers = PublisherWindow.MaxPublishers)
{
    internal const int MaxPublishers = 1024;
    internal const int MaxPublisherIdLength = 64;

    private readonly Dictionary<string, Entry> _newest = new(StringComparer.Ordinal);

    public int Count => _newest.Count;

    /// <summary>The checks the silo makes on a numbered publish, whoever the caller is.</summary>
    public static void Validate(string publisher, long sequence)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        if (publisher.Length is 0 or > MaxPublisherIdLength)
        {
            throw new ArgumentException($"A publisher id is 1 to {MaxPublisherIdLength} characters.", nameof(publisher));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(sequence, 1);
    }

    /// <summary>True when the batch was taken already (or a later one was).</summary>
    public bool IsCopy(string publisher, long sequence) =>
        _newest.TryGetValue(publisher, out var entry) && sequence <= entry.Sequence;

    /// <summary>
    /// Null when a batch sent after batch <paramref name="previous"/> is next, to be taken: its previous was taken, or
    /// it names none. Else the answer to give without taking it: <see cref="PublishOutcome.Taken"/> for a copy (at or below
    /// the newest taken), <see cref="PublishOutcome.OutOfOrder"/> when its previous has not been taken, and
    /// <see cref="PublishOutcome.UnknownPublisher"/> when it names a previous batch of a publisher this window does not know.
    /// </summary>
    public PublishOutcome? Refusal(string publisher, long sequence, long previous)
    {
        if (!_newest.TryGetValue(publisher, out var entry))
        {
            return previous == 0 ? null : PublishOutcome.UnknownPublisher;
        }

        if (sequence <= entry.Sequence)
        {
            return PublishOutcome.Taken;
        }

        return previous <= entry.Sequence ? null : PublishOutcome.OutOfOrder;
    }

    /// <summary>Records that the topic took the batch.</summary>
    public void Took(string publisher, long sequence, long now)
    {
        if (!_newest.ContainsKey(publisher) && _newest.Count >= maxPublishers)
        {
            _newest.Remove(_newest.MinBy(e => e.Value.SeenAt).Key);
        }

        _newest[publisher] = new Entry(sequence, now);
    }

    /// <summary>For a handover to the next activation.</summary>
    public Dictionary<string, long> Snapshot() =>
        _newest.ToDictionary(e => e.Key, e => e.Value.Sequence, StringComparer.Ordinal);

    public void Restore(IReadOnlyDictionary<string, long> newest, long now)
    {
        foreach (var (publisher, sequence) in newest.Take(maxPublishers))
        {
            _newest[publisher] = new Entry(sequence, now);
        }
    }

    private readonly record struct Entry(long Sequence, long SeenAt);
}
