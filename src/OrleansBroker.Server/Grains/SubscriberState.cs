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
}
