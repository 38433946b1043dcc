using OrleansBroker.Grains;

namespace OrleansBroker.Server.Grains;

/// <summary>What a subscription keeps across deactivation: what it is and whom to deliver to.</summary>
[GenerateSerializer, Alias("OrleansBroker.SubscriberState")]
internal sealed class SubscriberState
{
    [Id(0)] public SubscriptionSpec? Spec { get; set; }
    [Id(1)] public IMessageObserver? Observer { get; set; }

    /// <summary>The gate's stream position, written on a graceful deactivation only.</summary>
    [Id(2)] public StreamPosition? Handover { get; set; }

    /// <summary>
    /// Written with <see cref="Handover"/>: the handing-over activation's sender, the last delivery number it
    /// used and its running count of messages sent, so that its next activation carries on the numbering (the
    /// client puts the two activations' deliveries in one order) and the count (the client counts the messages of
    /// a delivery lost on the way from the next one's).
    /// </summary>
    [Id(3)] public SenderPosition? HandoverSender { get; set; }
}
