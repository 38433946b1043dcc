using StackExchange.Redis;

namespace OrleansBroker.Benchmarks.Transports;

/// <summary>
/// Redis Streams through StackExchange.Redis: XADD per publish, one consumer group per durable
/// subscription, each member a consumer reading XREADGROUP COUNT/BLOCK on a connection of its own
/// (BLOCK holds the connection) and acking every message it read by id in one XACK, sent before
/// the next read without waiting for its answer.
/// </summary>
internal sealed class RedisStreamsTransport(ConnectionMultiplexer connection, string address) : IDurableTransport
{
    // Entries per read (as JetStream's pull batch) and how long an empty read waits.
    private const int ReadCount = 1_000;
    private const int BlockMilliseconds = 500;

    private readonly IDatabase _db = connection.GetDatabase();
    private readonly List<Task> _readers = [];
    private readonly CancellationTokenSource _stopping = new();

    public int PublishWindow => IDurableTransport.Window;

    public static async Task<RedisStreamsTransport> ConnectAsync(int port) =>
        new(await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port}"), $"127.0.0.1:{port}");

    public Task CreateAsync(string topic, string group) =>
        _db.StreamCreateConsumerGroupAsync(topic, group, StreamPosition.Beginning, createStream: true);

    public Task PublishAsync(string topic, byte[] body) => _db.StreamAddAsync(topic, "b", body);

    public async Task SubscribeAsync(string topic, string group, Action<ReadOnlyMemory<byte>> onMessage, Action<int> onAcked)
    {
        var reader = await ConnectionMultiplexer.ConnectAsync(address);
        var db = reader.GetDatabase();
        var consumer = Guid.NewGuid().ToString("N");
        _readers.Add(Task.Run(async () =>
        {
            await using var owned = reader;
            var acks = new List<Task>();
            while (!_stopping.IsCancellationRequested)
            {
                // StackExchange.Redis has no BLOCK of its own (it would stall a shared connection): send the command as it is.
                var reply = await db.ExecuteAsync("XREADGROUP", "GROUP", group, consumer, "COUNT", ReadCount, "BLOCK", BlockMilliseconds, "STREAMS", topic, ">");
                if (reply.IsNull)
                {
                    continue;
                }

                // [[key, [[id, [field, value]], ...]]]
                var entries = (RedisResult[])((RedisResult[])((RedisResult[])reply!)[0]!)[1]!;
                var ids = new RedisValue[entries.Length];
                for (var i = 0; i < entries.Length; i++)
                {
                    var entry = (RedisResult[])entries[i]!;
                    ids[i] = (RedisValue)entry[0];
                    onMessage((byte[])((RedisResult[])entry[1]!)[1]!);
                }

                // Not awaited before the next read (JetStream's acks are not confirmed either): the XACK goes out first on
                // the same connection, so the next read never waits on it, and the count moves when Redis has answered.
                acks.Add(AckAsync(ids));
                acks.RemoveAll(a => a.IsCompletedSuccessfully);
            }

            await Task.WhenAll(acks);
        }));

        async Task AckAsync(RedisValue[] ids)
        {
            await db.StreamAcknowledgeAsync(topic, group, ids);
            onAcked(ids.Length);
        }
    }

    public Task DeleteAsync(string topic, string group) => _db.KeyDeleteAsync(topic);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_readers);
        await connection.DisposeAsync();
        _stopping.Dispose();
    }
}
