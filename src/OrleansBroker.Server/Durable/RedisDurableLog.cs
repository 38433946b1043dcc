using System.Buffers;
using StackExchange.Redis;

namespace OrleansBroker.Durable;

/// <summary>
/// The durable log in Redis or Garnet (one store for a cluster, an embedded Garnet on disk for the
/// single silo). Each topic has two keys with the topic as their hash tag: "{prefix}{topic}:messages",
/// a list of the kept messages (<see cref="LoggedMessageFormat"/>) oldest first, and
/// "{prefix}{topic}:first", the sequence number of the list's head (absent: 1). Every operation is
/// one Lua script, so one round trip, atomic, and numbered by the store: two activations of a topic
/// never give out one number twice. Garnet runs scripts atomically only in its Lua transaction mode
/// (--lua --lua-transaction-mode). Streams would fit better, but Garnet has none.
/// </summary>
public sealed class RedisDurableLog : IDurableLog, IAsyncDisposable, IDisposable
{
    // 1,000 values per RPUSH: Redis' Lua 5.1 unpacks at most about 8,000 onto its stack.
    private const string AppendScript = """
        local first = tonumber(redis.call('GET', KEYS[2]) or '1')
        local next = first + redis.call('LLEN', KEYS[1])
        for i = 1, #ARGV, 1000 do
            redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
        end
        return next
        """;

    private const string ReadScript = """
        local first = tonumber(redis.call('GET', KEYS[2]) or '1')
        local from = math.max(tonumber(ARGV[1]), first)
        local at = from - first
        if at >= redis.call('LLEN', KEYS[1]) then
            return {from, {}}
        end
        return {from, redis.call('LRANGE', KEYS[1], at, at + tonumber(ARGV[2]) - 1)}
        """;

    private const string LastScript = """
        return tonumber(redis.call('GET', KEYS[2]) or '1') + redis.call('LLEN', KEYS[1]) - 1
        """;

    // The head never passes the last message plus one, so numbering goes on from there.
    private const string TrimScript = """
        local first = tonumber(redis.call('GET', KEYS[2]) or '1')
        local floor = tonumber(ARGV[1])
        if floor <= first then
            return first
        end
        local drop = math.min(floor - first, redis.call('LLEN', KEYS[1]))
        if drop > 0 then
            redis.call('LTRIM', KEYS[1], drop, -1)
            redis.call('SET', KEYS[2], string.format('%d', first + drop))
        end
        return first + drop
        """;

    private readonly string _keyPrefix;
    private readonly Lazy<Task<ConnectionMultiplexer>> _connection;

    /// <param name="configuration">The store; copied. It connects on first use and reconnects by itself.</param>
    /// <param name="keyPrefix">The start of every key (<see cref="RedisDurableLogOptions.KeyPrefix"/>).</param>
    public RedisDurableLog(ConfigurationOptions configuration, string keyPrefix)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(keyPrefix);
        var options = configuration.Clone();

        // A store that is down at first use is retried in the background, not given up on for good.
        options.AbortOnConnectFail = false;
        _keyPrefix = keyPrefix;
        _connection = new(() => ConnectionMultiplexer.ConnectAsync(options));
    }

    /// <inheritdoc/>
    public async Task<long> AppendAsync(string topic, IReadOnlyList<Message> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);

        // The whole batch in one rented buffer, each value a slice of it: one allocation per batch, not per message.
        var sizes = new int[messages.Count];
        var total = 0;
        for (var i = 0; i < sizes.Length; i++)
        {
            total += sizes[i] = LoggedMessageFormat.SizeOf(messages[i]);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(total);
        var values = new RedisValue[sizes.Length];
        for (int i = 0, at = 0; i < values.Length; at += sizes[i++])
        {
            LoggedMessageFormat.Write(messages[i], buffer.AsSpan(at, sizes[i]));
            values[i] = buffer.AsMemory(at, sizes[i]);
        }

        var first = (long)await EvaluateAsync(AppendScript, topic, values, cancellationToken);

        // Only once the command has surely been written: a failed or cancelled call may still be sending it.
        ArrayPool<byte>.Shared.Return(buffer);
        return first;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<LoggedMessage>> ReadAsync(string topic, long from, int max, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        var result = (RedisResult[])(await EvaluateAsync(ReadScript, topic, [from, max], cancellationToken))!;
        var start = (long)result[0];
        var items = (RedisResult[])result[1]!;
        var found = new LoggedMessage[items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            found[i] = new LoggedMessage(start + i, LoggedMessageFormat.Decode((byte[])items[i]!));
        }

        return found;
    }

    /// <inheritdoc/>
    public async Task<long> LastAsync(string topic, CancellationToken cancellationToken = default) =>
        (long)await EvaluateAsync(LastScript, topic, [], cancellationToken);

    /// <inheritdoc/>
    public Task TrimAsync(string topic, long floor, CancellationToken cancellationToken = default) =>
        EvaluateAsync(TrimScript, topic, [floor], cancellationToken);

    /// <inheritdoc/>
    public async Task DeleteAsync(string topic, CancellationToken cancellationToken = default)
    {
        var database = await DatabaseAsync(cancellationToken);
        await database.KeyDeleteAsync(Keys(topic)).WaitAsync(cancellationToken);
    }

    /// <summary>Closes the connection, if one was made.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_connection.IsValueCreated)
        {
            await (await _connection.Value).DisposeAsync();
        }
    }

    /// <summary>Closes the connection, if one was made.</summary>
    public void Dispose()
    {
        if (_connection.IsValueCreated)
        {
            _connection.Value.GetAwaiter().GetResult().Dispose();
        }
    }

    private async Task<RedisResult> EvaluateAsync(string script, string topic, RedisValue[] values, CancellationToken cancellationToken)
    {
        var database = await DatabaseAsync(cancellationToken);

        // StackExchange.Redis sends EVALSHA once the server knows the script: one round trip.
        return await database.ScriptEvaluateAsync(script, Keys(topic), values).WaitAsync(cancellationToken);
    }

    private async Task<IDatabase> DatabaseAsync(CancellationToken cancellationToken) =>
        (await _connection.Value.WaitAsync(cancellationToken)).GetDatabase();

    private RedisKey[] Keys(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        var tagged = $"{_keyPrefix}{{{topic}}}";
        return [tagged + ":messages", tagged + ":first"];
    }
}
