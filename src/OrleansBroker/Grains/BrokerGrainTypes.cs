namespace OrleansBroker.Grains;

/// <summary>
/// The broker's grain type names, fixed so that they survive renames and so that admin listings
/// can ask the cluster for every active topic.
/// </summary>
public static class BrokerGrainTypes
{
    /// <summary>The grain type of a topic (<see cref="ITopicGrain"/>), keyed by the topic's name.</summary>
    public const string Topic = "orleansbroker-topic";

    /// <summary>The grain type of a subscription (<see cref="ISubscriberGrain"/>), keyed by its id.</summary>
    public const string Subscriber = "orleansbroker-subscriber";

    /// <summary>The grain type of a durable subscription (<see cref="IDurableGrain"/>), keyed by <see cref="DurableKey.Of"/>.</summary>
    public const string Durable = "orleansbroker-durable";
}
