namespace OrleansBroker.Memory;

/// <summary>
/// The deadlines and delays of one <see cref="MemoryDurable"/>, on one timer. AckWait deadlines
/// are kept in a list ordered by when they end (a new one goes at the end unless AckWait was just
/// shortened), so an ack takes its deadline out at once instead of leaving it to expire unseen;
/// nak delays and backoffs, which only end by expiring, wait in a priority queue.
/// Not thread-safe: its owner calls it under the broker's lock, and <c>onTick</c> takes that lock.
/// </summary>
internal sealed class DurableClock : IDisposable
{
    // A timer due "now" could fire inside the lock that armed it; the soonest it is armed for is this.
    private static readonly TimeSpan MinimumDue = TimeSpan.FromMilliseconds(1);

    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly LinkedList<DurableEntry> _deadlines = new();
    private readonly PriorityQueue<DurableEntry, DateTimeOffset> _delays = new();
    private DateTimeOffset _armedFor = DateTimeOffset.MaxValue;
    private bool _disposed;

    public DurableClock(TimeProvider time, Action onTick)
    {
        _time = time;
        _timer = time.CreateTimer(static state => ((Action)state!)(), onTick, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The entry is redelivered unless acked within <paramref name="ackWait"/> from now.</summary>
    public void StartDeadline(DurableEntry entry, TimeSpan ackWait)
    {
        entry.DueAt = _time.GetUtcNow() + ackWait;
        var before = _deadlines.Last;
        while (before is not null && before.Value.DueAt > entry.DueAt)
        {
            before = before.Previous;
        }

        if (before is null)
        {
            _deadlines.AddFirst(entry.DeadlineNode);
        }
        else
        {
            _deadlines.AddAfter(before, entry.DeadlineNode);
        }

        Arm(entry.DueAt);
    }

    /// <summary>The entry was acked or given back: its deadline no longer counts.</summary>
    public void StopDeadline(DurableEntry entry)
    {
        if (entry.DeadlineNode.List is not null)
        {
            _deadlines.Remove(entry.DeadlineNode);
        }
    }

    /// <summary>The entry becomes ready again after <paramref name="delay"/>.</summary>
    public void Delay(DurableEntry entry, TimeSpan delay)
    {
        entry.DueAt = _time.GetUtcNow() + delay;
        _delays.Enqueue(entry, entry.DueAt);
        Arm(entry.DueAt);
    }

    /// <summary>Takes the entries whose deadline passed and those whose delay ended, and arms the timer for the next.</summary>
    public void TakeDue(List<DurableEntry> expired, List<DurableEntry> delayed)
    {
        _armedFor = DateTimeOffset.MaxValue;
        var now = _time.GetUtcNow();
        while (_deadlines.First is { } first && first.Value.DueAt <= now)
        {
            _deadlines.RemoveFirst();
            expired.Add(first.Value);
        }

        while (_delays.TryPeek(out var entry, out var dueAt) && dueAt <= now)
        {
            _delays.Dequeue();
            delayed.Add(entry);
        }

        if (_deadlines.First is { } next)
        {
            Arm(next.Value.DueAt);
        }

        if (_delays.TryPeek(out _, out var nextDelay))
        {
            Arm(nextDelay);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _deadlines.Clear();
        _delays.Clear();
        _timer.Dispose();
    }

    private void Arm(DateTimeOffset dueAt)
    {
        if (_disposed || dueAt >= _armedFor)
        {
            return;
        }

        _armedFor = dueAt;
        var dueIn = dueAt - _time.GetUtcNow();
        _timer.Change(dueIn > MinimumDue ? dueIn : MinimumDue, Timeout.InfiniteTimeSpan);
    }
}
