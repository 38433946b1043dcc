namespace OrleansBroker.Server.Durable;

/// <summary>
/// The silo's side of a topic (<see cref="OrleansBroker.Grains.ITopicGrain"/> is the clients'): the durable subscriptions
/// register here, report how far they acked, and dead letters are published here.
/// </summary>
[Alias("OrleansBroker.ITopicDurables")]
internal interface ITopicDurables : IGrainWithStringKey
{
    /// <summary>
    /// Registers the durable subscription <paramref name="queue"/> (or, when it is registered, sets its
    /// <paramref name="maxBacklog"/>); returns its ack floor: the first sequence number it keeps. Unregistered
    /// and not <paramref name="create"/>: returns 0 and changes nothing.
    /// </summary>
    [Alias("JoinDurable")]
    Task<long> JoinDurable(string queue, long maxBacklog, bool create);

    /// <summary>Forgets the durable subscription and trims the log for the rest; false when it was not registered.</summary>
    [Alias("LeaveDurable")]
    Task<bool> LeaveDurable(string queue);

    /// <summary>
    /// The durable subscription settled everything below <paramref name="floor"/> and <paramref name="settledAbove"/>
    /// messages above it: the topic counts its backlog from that and trims its log below the lowest floor.
    /// </summary>
    [OneWay, Alias("ReportDurable")]
    Task ReportDurable(string queue, long floor, long settledAbove);

    /// <summary>
    /// Dead letters for this <c>$DLQ.</c> topic, published by a durable subscription of the original topic:
    /// stored before it completes, and kept by the durable subscription <see cref="DeadLetter.Queue"/>, created at the first.
    /// </summary>
    [Alias("PublishDeadLetters")]
    Task PublishDeadLetters(Immutable<Message[]> messages);
}
