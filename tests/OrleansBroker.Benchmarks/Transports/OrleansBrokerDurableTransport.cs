using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace OrleansBroker.Benchmarks.Transports;

/// <summary>
/// OrleansBroker's durable subscriptions through ClusterBroker: members of one durable queue,
/// each message acked by the handler (AutoAck off, AckAsync awaited); a publish completes once stored.
/// </summary>
internal sealed class OrleansBrokerDurableTransport(IHost host, ClusterBroker broker) : IDurableTransport
{
    public int PublishWindow => IDurableTransport.Window;

    public static async Task<OrleansBrokerDurableTransport> ConnectAsync(int gatewayPort)
    {
        var host = await OrleansBrokerTransport.ConnectClientAsync(gatewayPort, _ => { });
        var broker = new ClusterBroker(host.Services.GetRequiredService<IClusterClient>());
        await broker.ConnectAsync();
        return new OrleansBrokerDurableTransport(host, broker);
    }

    // The first member's SubscribeAsync makes the durable subscription; members subscribe before anything is published.
    public Task CreateAsync(string topic, string group) => Task.CompletedTask;

    public Task PublishAsync(string topic, byte[] body) => broker.PublishAsync(topic, new Message(body));

    public Task SubscribeAsync(string topic, string group, Action<ReadOnlyMemory<byte>> onMessage, Action<int> onAcked) =>
        broker.SubscribeAsync(topic, async (evt, cancellationToken) =>
        {
            onMessage(evt.Message.Body);
            await evt.AckAsync(cancellationToken);
            onAcked(1);
        }, new SubscribeOptions { Queue = group, Durable = true, AutoAck = false, MaxAckPending = IDurableTransport.MaxAckPending });

    public Task DeleteAsync(string topic, string group) => broker.DeleteDurableAsync(topic, group);

    public async ValueTask DisposeAsync()
    {
        await broker.DisposeAsync();
        await host.StopAsync();
        host.Dispose();
    }
}
