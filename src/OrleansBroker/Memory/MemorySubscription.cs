using OrleansBroker.Subscriptions;

namespace OrleansBroker.Memory;

/// <summary>A subscription of a <see cref="MemoryBroker"/>: its options and its handler's dispatcher.</summary>
internal sealed class MemorySubscription(MemoryBroker broker, string topic, SubscribeOptions options, HandlerDispatcher dispatcher)
    : ISubscriber
{
    public string Topic { get; } = topic;

    public SubscribeOptions Options { get; } = options;

    public HandlerDispatcher Dispatcher { get; } = dispatcher;

    public Task UnsubscribeAsync(CancellationToken cancellationToken = default) => broker.RemoveAsync(this);

    public ValueTask DisposeAsync() => new(UnsubscribeAsync());
}
