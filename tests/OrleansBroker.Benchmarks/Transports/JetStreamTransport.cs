using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace OrleansBroker.Benchmarks.Transports;

/// <summary>
/// NATS JetStream through NATS.Net: one file-storage stream per topic, a durable pull consumer with
/// explicit acks shared by the members; each publish awaits its PubAck, each message is acked alone.
/// </summary>
internal sealed class JetStreamTransport(NatsConnection connection) : IDurableTransport
{
    // Messages each member asks the server for per pull (NATS.Net's default); it pulls again at half.
    private const int PullBatch = 1_000;

    private readonly NatsJSContext _js = new(connection);
    private readonly List<Task> _readers = [];
    private readonly CancellationTokenSource _stopping = new();

    public int PublishWindow => IDurableTransport.Window;

    public static async Task<JetStreamTransport> ConnectAsync(int port)
    {
        var connection = new NatsConnection(NatsOpts.Default with { Url = $"nats://127.0.0.1:{port}" });
        await connection.ConnectAsync();
        return new JetStreamTransport(connection);
    }

    public async Task CreateAsync(string topic, string group)
    {
        await _js.CreateStreamAsync(new StreamConfig(StreamName(topic), [topic]) { Storage = StreamConfigStorage.File });
        await _js.CreateOrUpdateConsumerAsync(StreamName(topic), new ConsumerConfig(group)
        {
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
            MaxAckPending = IDurableTransport.MaxAckPending,
        });
    }

    public async Task PublishAsync(string topic, byte[] body) => (await _js.PublishAsync(topic, body)).EnsureSuccess();

    public async Task SubscribeAsync(string topic, string group, Action<ReadOnlyMemory<byte>> onMessage, Action<int> onAcked)
    {
        var consumer = await _js.GetConsumerAsync(StreamName(topic), group);
        _readers.Add(Task.Run(async () =>
        {
            try
            {
                await foreach (var message in consumer.ConsumeAsync<byte[]>(opts: new NatsJSConsumeOpts { MaxMsgs = PullBatch }, cancellationToken: _stopping.Token))
                {
                    onMessage(message.Data ?? []);
                    await message.AckAsync(cancellationToken: _stopping.Token);
                    onAcked(1);
                }
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }
        }));
    }

    public async Task DeleteAsync(string topic, string group) => await _js.DeleteStreamAsync(StreamName(topic));

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_readers);
        await connection.DisposeAsync();
        _stopping.Dispose();
    }

    // Stream names may not hold dots; subjects do.
    private static string StreamName(string topic) => topic.Replace('.', '_');
}
