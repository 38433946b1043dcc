using System.Threading.Channels;
using NATS.Client.Core;

namespace OrleansBroker.Benchmarks.Transports;

/// <summary>NATS core through NATS.Net: queue groups included; subscriptions wait rather than drop when full.</summary>
internal sealed class NatsTransport(NatsConnection connection) : ITransport
{
    private readonly List<Task> _readers = [];

    public bool HasQueueGroups => true;

    public int PublishWindow => 16_384;

    public static async Task<NatsTransport> ConnectAsync(int port)
    {
        var connection = new NatsConnection(NatsOpts.Default with
        {
            Url = $"nats://127.0.0.1:{port}",
            SubPendingChannelCapacity = 65_536,
            SubPendingChannelFullMode = BoundedChannelFullMode.Wait,
        });
        await connection.ConnectAsync();
        return new NatsTransport(connection);
    }

    public Task PublishAsync(string topic, byte[] body) => connection.PublishAsync(topic, body).AsTask();

    public async Task SubscribeAsync(string topic, string? queue, Action<ReadOnlyMemory<byte>> onMessage)
    {
        var subscription = await connection.SubscribeCoreAsync<byte[]>(topic, queue);
        _readers.Add(Task.Run(async () =>
        {
            await foreach (var message in subscription.Msgs.ReadAllAsync())
            {
                onMessage(message.Data);
            }
        }));
        await connection.PingAsync();
    }

    public async ValueTask DisposeAsync() => await connection.DisposeAsync();
}
