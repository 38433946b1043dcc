using OrleansBroker.Benchmarks.Transports;

namespace OrleansBroker.Benchmarks.Roles;

/// <summary>The peers the benchmark compares, by the names used on its command lines.</summary>
internal static class Peers
{
    public const string OrleansBroker = "orleansbroker";
    public const string MemoryStreams = "memorystreams";
    public const string Redis = "redis";
    public const string Nats = "nats";
    public const string JetStream = "jetstream";
    public const string RedisStreams = "redisstreams";

    /// <summary>The peers of the plain (at-most-once) rows.</summary>
    public static readonly string[] All = [OrleansBroker, MemoryStreams, Redis, Nats];

    /// <summary>The peers of the durable (at-least-once) rows.</summary>
    public static readonly string[] Durable = [OrleansBroker, JetStream, RedisStreams];

    public static string Title(string peer) => peer switch
    {
        OrleansBroker => "OrleansBroker",
        MemoryStreams => "memory streams",
        Redis => "Redis pub/sub",
        Nats => "NATS core",
        JetStream => "NATS JetStream",
        RedisStreams => "Redis Streams",
        _ => peer,
    };

    public static async Task<ITransport> ConnectAsync(string peer, int port) => peer switch
    {
        OrleansBroker => await OrleansBrokerTransport.ConnectAsync(port),
        MemoryStreams => await MemoryStreamsTransport.ConnectAsync(port),
        Redis => await RedisTransport.ConnectAsync(port),
        Nats => await NatsTransport.ConnectAsync(port),
        _ => throw new ArgumentException($"unknown peer '{peer}'"),
    };

    public static async Task<IDurableTransport> ConnectDurableAsync(string peer, int port) => peer switch
    {
        OrleansBroker => await OrleansBrokerDurableTransport.ConnectAsync(port),
        JetStream => await JetStreamTransport.ConnectAsync(port),
        RedisStreams => await RedisStreamsTransport.ConnectAsync(port),
        _ => throw new ArgumentException($"no durable transport for peer '{peer}'"),
    };

    /// <summary>The topic names of a run: one, or <paramref name="count"/> numbered ones.</summary>
    public static string[] Topics(string topic, int count) =>
        count <= 1 ? [topic] : Enumerable.Range(0, count).Select(i => $"{topic}.{i}").ToArray();
}
