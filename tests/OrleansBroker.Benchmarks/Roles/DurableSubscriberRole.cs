namespace OrleansBroker.Benchmarks.Roles;

/// <summary>
/// A member of a durable subscription in a process of its own: joins it, acks every message,
/// and reports as <see cref="SubscriberRole"/> does, counting acks rather than deliveries (latency
/// is still publish to handler). A peer that has no durable subscriptions in this build prints
/// "unavailable REASON" and exits with 3.
/// </summary>
internal static class DurableSubscriberRole
{
    public const int Unavailable = 3;

    public static async Task<int> RunAsync(string peer, int port, string topic, string group, bool latency)
    {
        await using var transport = await Peers.ConnectDurableAsync(peer, port);
        var stats = new DeliveryStats(latency);
        try
        {
            await transport.SubscribeAsync(topic, group, stats.Received, stats.Acked);
        }
        catch (NotSupportedException ex)
        {
            Console.WriteLine($"unavailable {ex.Message}");
            return Unavailable;
        }

        Console.WriteLine("subscribed");
        await stats.ReportUntilClosedAsync();
        return 0;
    }
}
