namespace OrleansBroker;

/// <summary>
/// Where a durable subscription's messages go after <see cref="SubscribeOptions.MaxDeliver"/> deliveries
/// without an ack (Pulsar's dead-letter topic with an initial subscription): to the topic
/// <see cref="TopicOf"/>, kept there by the durable subscription <see cref="Queue"/> until read.
/// </summary>
public static class DeadLetter
{
    /// <summary>The durable subscription that keeps dead letters on their topic.</summary>
    public const string Queue = "dlq";

    /// <summary>Why the message was dead-lettered ("max-deliver").</summary>
    public const string ReasonHeader = "x-dead-letter-reason";

    /// <summary>The topic the message was published to.</summary>
    public const string OriginalTopicHeader = "x-original-topic";

    /// <summary>Deliveries made, in decimal ("10").</summary>
    public const string DeliveryCountHeader = "x-delivery-count";

    /// <summary>The reason a message that reached <see cref="SubscribeOptions.MaxDeliver"/> carries.</summary>
    public const string MaxDeliverReason = "max-deliver";

    /// <summary>The prefix of every dead-letter topic; publishing to any <c>$</c> topic is refused.</summary>
    public const string TopicPrefix = "$DLQ.";

    /// <summary>The dead-letter topic of the durable subscription (topic, queue): "$DLQ." + topic + "." + queue.</summary>
    public static string TopicOf(string topic, string queue)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(queue);
        return TopicPrefix + topic + "." + queue;
    }
}
