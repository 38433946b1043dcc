using OrleansBroker.Subscriptions;

namespace OrleansBroker.Memory;

/// <summary>
/// A subscription of a <see cref="MemoryBroker"/>: its options, its handler's dispatcher and, for a
/// member of a durable subscription, the <see cref="Member"/> whose unacked messages go back to it when it ends.
/// </summary>
internal sealed class MemorySubscription(MemoryBroker broker, string topic, SubscribeOptions options, HandlerDispatcher dispatcher,
    MemoryDurableMember? member = null)
    : ISubscriber
{
    public string Topic { get; } = topic;

    public SubscribeOptions Options { get; } = options;

    public HandlerDispatcher Dispatcher { get; } = dispatcher;

    public MemoryDurableMember? Member { get; } = member;

    public Task UnsubscribeAsync(CancellationToken cancellationToken = default) => broker.RemoveAsync(this);

    public ValueTask DisposeAsync() => new(UnsubscribeAsync());
}
