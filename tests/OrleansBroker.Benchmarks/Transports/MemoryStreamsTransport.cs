using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Streams;

namespace OrleansBroker.Benchmarks.Transports;

/// <summary>Orleans memory streams on the same silo: client producer to client consumers. No queue groups.</summary>
internal sealed class MemoryStreamsTransport(IHost host) : ITransport
{
    private readonly IStreamProvider _streams = host.Services.GetRequiredService<IClusterClient>().GetStreamProvider(Roles.SiloRoleNames.StreamProvider);

    public bool HasQueueGroups => false;

    // Memory streams refuse more than 16,384 queued events per queue: keep the window well under it.
    public int PublishWindow => 1_000;

    public static async Task<MemoryStreamsTransport> ConnectAsync(int gatewayPort) =>
        new(await OrleansBrokerTransport.ConnectClientAsync(gatewayPort, c => c.AddMemoryStreams(Roles.SiloRoleNames.StreamProvider)));

    public Task PublishAsync(string topic, byte[] body) => Stream(topic).OnNextAsync(body);

    public Task SubscribeAsync(string topic, string? queue, Action<ReadOnlyMemory<byte>> onMessage) =>
        Stream(topic).SubscribeAsync((body, _) =>
        {
            onMessage(body);
            return Task.CompletedTask;
        });

    public async ValueTask DisposeAsync()
    {
        await host.StopAsync();
        host.Dispose();
    }

    private IAsyncStream<byte[]> Stream(string topic) => _streams.GetStream<byte[]>(StreamId.Create("bench", topic));
}
