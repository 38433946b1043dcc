using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;

namespace OrleansBroker.Benchmarks.Transports;

/// <summary>OrleansBroker's ClusterBroker over a real TCP connection to the benchmark silo.</summary>
internal sealed class OrleansBrokerTransport(IHost host, ClusterBroker broker) : ITransport
{
    /// <summary>Far above any run's backlog, so deliveries wait rather than drop; the benchmark's silo allows it.</summary>
    public const int MaxPending = 4_000_000;

    public bool HasQueueGroups => true;

    public int PublishWindow => 16_384;

    public static async Task<OrleansBrokerTransport> ConnectAsync(int gatewayPort)
    {
        var host = await ConnectClientAsync(gatewayPort, _ => { });
        var broker = new ClusterBroker(host.Services.GetRequiredService<IClusterClient>());
        await broker.ConnectAsync();
        return new OrleansBrokerTransport(host, broker);
    }

    /// <summary>An Orleans client of the benchmark silo; <paramref name="configure"/> adds what a peer needs.</summary>
    public static async Task<IHost> ConnectClientAsync(int gatewayPort, Action<IClientBuilder> configure)
    {
        var host = new HostBuilder()
            .UseOrleansClient(client =>
            {
                client.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, gatewayPort));
                client.Configure<ClusterOptions>(o => o.ClusterId = o.ServiceId = Roles.SiloRoleNames.ClusterId);
                configure(client);
            })
            .Build();
        await host.StartAsync();
        return host;
    }

    public Task PublishAsync(string topic, byte[] body) => broker.PublishAsync(topic, new Message(body));

    public Task SubscribeAsync(string topic, string? queue, Action<ReadOnlyMemory<byte>> onMessage) =>
        broker.SubscribeAsync(topic, (evt, _) =>
        {
            onMessage(evt.Message.Body);
            return Task.CompletedTask;
        }, new SubscribeOptions { Queue = queue, MaxPending = MaxPending });

    public async ValueTask DisposeAsync()
    {
        await broker.DisposeAsync();
        await host.StopAsync();
        host.Dispose();
    }
}
