using OrleansBroker.Grains;

namespace OrleansBroker.Server.Durable;

/// <summary>
/// The silo's side of a durable subscription's grain (<see cref="IDurableGrain"/> is the clients'):
/// members join and leave through their SubscriberGrains, and the topic feeds it what it appended.
/// </summary>
[Alias("OrleansBroker.IDurableFeed")]
internal interface IDurableFeed : IGrainWithStringKey
{
    /// <summary>
    /// Adds (or re-adds) a member; idempotent. <paramref name="create"/>: a new subscribe, which creates the
    /// durable subscription when there is none and sets its <paramref name="settings"/>; otherwise a member
    /// coming back, which changes no setting. False: the subscription does not exist (it was deleted).
    /// <paramref name="restarted"/>: the member's grain came back after a crash with nothing it was sent, so
    /// what it has out and not begun goes out again at once.
    /// </summary>
    [Alias("Join")]
    Task<bool> Join(string memberId, DurableSettings? settings, bool create, bool restarted = false);

    /// <summary>A member leaves: what it has out goes to the other members at once. Idempotent.</summary>
    [Alias("Leave")]
    Task Leave(string memberId);

    /// <summary>Messages the member could not take: they go to the members again at once.</summary>
    [OneWay, Alias("Release")]
    Task Release(string memberId, long[] sequences);

    /// <summary>What the topic appended to its log: <paramref name="first"/> is the first message's sequence number.</summary>
    [OneWay, Alias("Deliver")]
    Task Deliver(long first, Immutable<Message[]> messages);
}
