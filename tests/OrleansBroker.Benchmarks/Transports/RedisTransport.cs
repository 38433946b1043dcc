using StackExchange.Redis;

namespace OrleansBroker.Benchmarks.Transports;

/// <summary>Redis pub/sub through StackExchange.Redis: one connection per transport, messages in order per channel.</summary>
internal sealed class RedisTransport(ConnectionMultiplexer connection) : ITransport
{
    private readonly StackExchange.Redis.ISubscriber _pubsub = connection.GetSubscriber();

    public bool HasQueueGroups => false;

    public int PublishWindow => 16_384;

    public static async Task<RedisTransport> ConnectAsync(int port) =>
        new(await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port}"));

    public Task PublishAsync(string topic, byte[] body) => _pubsub.PublishAsync(RedisChannel.Literal(topic), body);

    public async Task SubscribeAsync(string topic, string? queue, Action<ReadOnlyMemory<byte>> onMessage)
    {
        var channel = await _pubsub.SubscribeAsync(RedisChannel.Literal(topic));
        channel.OnMessage(message => onMessage((byte[])message.Message!));
    }

    public async ValueTask DisposeAsync() => await connection.DisposeAsync();
}
