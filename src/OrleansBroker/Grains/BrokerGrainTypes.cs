namespace OrleansBroker.Grains;

/// <summary>
/// The broker's grain type names, fixed so that they survive renames and so that admin listings
/// can ask the cluster for every active topic.
/// </summary>
public static class BrokerGrainTypes
{
    public const string Topic = "orleansbroker-topic";
    public const string Subscriber = "orleansbroker-subscriber";
}
