using OrleansBroker.Durable;
using OrleansBroker.Tests.Infrastructure;
using StackExchange.Redis;

namespace OrleansBroker.Tests.Durable;

/// <summary>The contract on an embedded Garnet (Lua in transaction mode, as the silo runs it), through two connections.</summary>
public sealed class RedisDurableLogTests(RedisDurableLogTests.Store store) : DurableLogContractTests, IClassFixture<RedisDurableLogTests.Store>
{
    protected override IDurableLog Log => store.Log;

    protected override IDurableLog OtherLog => store.OtherLog;

    [Fact]
    public async Task Keys_AreAListAndAHeadNumber_WithThePrefix_AndTheTopicAsHashTag()
    {
        var topic = "keys-" + Guid.NewGuid().ToString("N");
        await Log.AppendAsync(topic, [Message.FromString("x"), Message.FromString("y")]);
        await Log.TrimAsync(topic, 2);

        await using var connection = await ConnectionMultiplexer.ConnectAsync(store.Server.ConnectionString);
        var database = connection.GetDatabase();
        Assert.Equal(RedisType.List, await database.KeyTypeAsync($"{Store.Prefix}{{{topic}}}:messages"));
        Assert.Equal(1, await database.ListLengthAsync($"{Store.Prefix}{{{topic}}}:messages"));
        Assert.Equal(2, (long)await database.StringGetAsync($"{Store.Prefix}{{{topic}}}:first"));

        await Log.DeleteAsync(topic);
        Assert.False(await database.KeyExistsAsync($"{Store.Prefix}{{{topic}}}:first"));
    }

    public sealed class Store : IDisposable
    {
        public const string Prefix = "test:log:";

        public Store()
        {
            Server = RedisServer.Start();
            Log = new RedisDurableLog(ConfigurationOptions.Parse(Server.ConnectionString), Prefix);
            OtherLog = new RedisDurableLog(ConfigurationOptions.Parse(Server.ConnectionString), Prefix);
        }

        public RedisServer Server { get; }

        public RedisDurableLog Log { get; }

        public RedisDurableLog OtherLog { get; }

        public void Dispose()
        {
            Log.Dispose();
            OtherLog.Dispose();
            Server.Dispose();
        }
    }
}
