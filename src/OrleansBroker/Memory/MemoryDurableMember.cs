using Microsoft.Extensions.Logging;
using OrleansBroker.Subscriptions;

namespace OrleansBroker.Memory;

/// <summary>
/// One member of a <see cref="MemoryDurable"/>: its handler's dispatcher, the messages it holds
/// unacked, and where its events' acks and naks go (settled in place, under the broker's lock).
/// </summary>
internal sealed class MemoryDurableMember : IAckSink
{
    public MemoryDurableMember(MemoryDurable durable, string topic, MessageHandler handler, BrokerOptions brokerOptions,
        SubscribeOptions options, ILogger logger)
    {
        Durable = durable;
        MaxPending = options.MaxPending;

        // The durable subscription bounds what it hands out (MaxPending per member, MaxAckPending in
        // all) and never drops, so the dispatcher must not refuse a message on count.
        Dispatcher = new HandlerDispatcher(topic, Receiving(handler), brokerOptions, options with { MaxPending = int.MaxValue },
            logger, acks: this);
    }

    public MemoryDurable Durable { get; }

    public HandlerDispatcher Dispatcher { get; }

    /// <summary>At most this many messages held unacked by this member (its subscribe's MaxPending).</summary>
    public int MaxPending { get; }

    /// <summary>What this member was handed and has not settled; touched under the broker's lock only.</summary>
    public HashSet<DurableEntry> Held { get; } = [];

    public ValueTask AckAsync(DeliveryTag tag, CancellationToken cancellationToken)
    {
        lock (Durable.Gate)
        {
            Durable.Ack(this, tag);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask NakAsync(DeliveryTag tag, TimeSpan? delay, CancellationToken cancellationToken)
    {
        lock (Durable.Gate)
        {
            Durable.Nak(this, tag, delay);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The user's handler, told first that its message was received, so AckWait runs from the
    /// moment the handler has it, not while it waits behind another; a delivery that no longer
    /// counts is skipped.
    /// </summary>
    private MessageHandler Receiving(MessageHandler handler) => (evt, cancellationToken) =>
    {
        if (evt is BrokerEvent { Tag: { } tag })
        {
            lock (Durable.Gate)
            {
                if (!Durable.Receive(this, tag))
                {
                    return Task.CompletedTask;
                }
            }
        }

        return handler(evt, cancellationToken);
    };
}
