using System.Globalization;
using Microsoft.Extensions.Logging;
using OrleansBroker.Internal;
using OrleansBroker.Memory;

namespace OrleansBroker;

/// <summary>MemoryBroker's durable subscriptions: joining, leaving, deleting and dead letters.</summary>
public sealed partial class MemoryBroker
{
    /// <inheritdoc/>
    public async Task<bool> DeleteDurableAsync(string topic, string queue, CancellationToken cancellationToken = default)
    {
        Validation.ValidateReadableTopic(topic);
        ArgumentNullException.ThrowIfNull(queue);
        Validation.ValidateQueue(queue);
        cancellationToken.ThrowIfCancellationRequested();

        List<MemorySubscription> members;
        lock (_gate)
        {
            if (_topics.GetValueOrDefault(topic)?.RemoveDurable(queue) is not { } durable)
            {
                return false;
            }

            durable.Delete();
            members = _subscriptions.Where(s => s.Member?.Durable == durable).ToList();
        }

        // Ended as an unsubscribe ends them: once this returns their handlers are not called again.
        await Task.WhenAll(members.Select(RemoveAsync)).ConfigureAwait(false);
        return true;
    }

    /// <summary>A new member of the durable subscription (topic, queue), made on its first subscribe. Under the lock.</summary>
    private MemorySubscription JoinDurable(string topic, MessageHandler handler, SubscribeOptions options)
    {
        var durable = GetOrAddDurable(topic, options);
        var member = new MemoryDurableMember(durable, topic, handler, _options, options, _logger);
        var subscription = new MemorySubscription(this, topic, options, member.Dispatcher, member);
        _subscriptions.Add(subscription);
        durable.Join(member, options);
        return subscription;
    }

    private MemoryDurable GetOrAddDurable(string topic, SubscribeOptions options)
    {
        var queue = options.Queue!;
        var memoryTopic = GetOrAddTopic(topic);
        return memoryTopic.FindDurable(queue)
            ?? memoryTopic.AddDurable(new MemoryDurable(topic, queue, options, _gate, _time, PublishDeadLetter));
    }

    /// <summary>A member that left and whose handler has stopped gives what it held to the other members.</summary>
    private void HandOver(MemoryDurableMember member)
    {
        lock (_gate)
        {
            member.Durable.HandOver(member);
        }
    }

    /// <summary>
    /// Publishes a message that had MaxDeliver deliveries without an ack to its dead-letter topic,
    /// whose durable subscription <see cref="DeadLetter.Queue"/> the first one creates, so a dead
    /// letter is kept until read even when nobody watches. Under the lock.
    /// </summary>
    private void PublishDeadLetter(MemoryDurable from, DurableEntry entry)
    {
        var header = new Dictionary<string, string>(entry.Message.Header, StringComparer.Ordinal)
        {
            [DeadLetter.ReasonHeader] = DeadLetter.MaxDeliverReason,
            [DeadLetter.OriginalTopicHeader] = from.Topic,
            [DeadLetter.DeliveryCountHeader] = entry.Deliveries.ToString(CultureInfo.InvariantCulture),
        };
        var topic = DeadLetter.TopicOf(from.Topic, from.Queue);
        GetOrAddDurable(topic, new SubscribeOptions { Queue = DeadLetter.Queue, Durable = true });
        GetOrAddTopic(topic).Publish(new Message(entry.Message.Body, header), refuseWhenFull: false);
        LogWarningDeadLettered(_logger, from.Topic, from.Queue, entry.Deliveries, topic);
    }

    [LoggerMessage(41, LogLevel.Warning, "Topic '{Topic}', durable subscription '{Queue}': a message had {Deliveries} deliveries without an ack; moved to '{DeadLetterTopic}'")]
    private static partial void LogWarningDeadLettered(ILogger logger, string topic, string queue, int deliveries, string deadLetterTopic);
}
