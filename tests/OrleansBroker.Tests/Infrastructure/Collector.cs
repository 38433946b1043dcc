using System.Collections.Concurrent;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>A handler that records what it receives, for tests to wait on and inspect.</summary>
public sealed class Collector
{
    private readonly ConcurrentQueue<IEvent> _events = new();

    public MessageHandler Handler => (evt, _) =>
    {
        _events.Enqueue(evt);
        return Task.CompletedTask;
    };

    public int Count => _events.Count;

    public IReadOnlyList<IEvent> Events => _events.ToArray();

    public IReadOnlyList<string> Bodies => _events.Select(e => e.Message.BodyAsString()).ToList();

    public Task WaitForCount(int count, TimeSpan? timeout = null) =>
        Eventually.WaitUntil(() => Count >= count, $"{count} messages (have {Count})", timeout);
}
