namespace OrleansBroker.Durable;

/// <summary>
/// The in-memory twin of the durable log, for tests and silos configured without a store: it keeps
/// the rules of <see cref="IDurableLog"/> but survives nothing. One instance may serve every silo of
/// an in-process test cluster, so a silo that dies there loses nothing from it.
/// </summary>
public sealed class MemoryDurableLog : IDurableLog
{
    private readonly Dictionary<string, TopicLog> _topics = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public Task<long> AppendAsync(string topic, IReadOnlyList<Message> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        lock (_topics)
        {
            var log = Get(topic, create: true)!;
            var first = log.First + log.Messages.Count;
            log.Messages.AddRange(messages);
            return Task.FromResult(first);
        }
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<LoggedMessage>> ReadAsync(string topic, long from, int max, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        lock (_topics)
        {
            var found = new List<LoggedMessage>();
            var log = Get(topic, create: false);
            if (log is not null)
            {
                var start = Math.Max(from, log.First);
                for (var sequence = start; sequence < log.First + log.Messages.Count && found.Count < max; sequence++)
                {
                    found.Add(new LoggedMessage(sequence, log.Messages[(int)(sequence - log.First)]));
                }
            }

            return Task.FromResult<IReadOnlyList<LoggedMessage>>(found);
        }
    }

    /// <inheritdoc/>
    public Task<long> LastAsync(string topic, CancellationToken cancellationToken = default)
    {
        lock (_topics)
        {
            var log = Get(topic, create: false);
            return Task.FromResult(log is null ? 0 : log.First + log.Messages.Count - 1);
        }
    }

    /// <inheritdoc/>
    public Task TrimAsync(string topic, long floor, CancellationToken cancellationToken = default)
    {
        lock (_topics)
        {
            var log = Get(topic, create: false);
            if (log is not null && floor > log.First)
            {
                var drop = (int)Math.Min(floor - log.First, log.Messages.Count);
                log.Messages.RemoveRange(0, drop);
                log.First += drop;
            }

            return Task.CompletedTask;
        }
    }

    /// <inheritdoc/>
    public Task DeleteAsync(string topic, CancellationToken cancellationToken = default)
    {
        lock (_topics)
        {
            _topics.Remove(topic);
            return Task.CompletedTask;
        }
    }

    private TopicLog? Get(string topic, bool create)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (!_topics.TryGetValue(topic, out var log) && create)
        {
            log = new TopicLog();
            _topics.Add(topic, log);
        }

        return log;
    }

    private sealed class TopicLog
    {
        public long First { get; set; } = 1;

        public List<Message> Messages { get; } = [];
    }
}
