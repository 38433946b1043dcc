using System.Collections.Concurrent;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.GoMicro;

/// <summary>
/// go-micro's broker tests, ported: memory_test.go TestMemoryBroker (with the counting it leaves
/// out) and http_test.go TestBroker, TestConcurrentSubBroker and TestConcurrentPubBroker.
/// Run against every broker.
/// </summary>
public abstract class GoMicroBrokerTests
{
    protected abstract IBroker CreateBroker();

    [Fact]
    public async Task TestMemoryBroker()
    {
        var b = CreateBroker();
        await b.ConnectAsync();
        const string topic = "test";
        const int count = 10;
        var received = new ConcurrentQueue<IEvent>();
        var sub = await b.SubscribeAsync(Topics.Unique(topic), (p, _) =>
        {
            received.Enqueue(p);
            return Task.CompletedTask;
        });

        for (var i = 0; i < count; i++)
        {
            var message = new Message("hello world"u8.ToArray(), new Dictionary<string, string> { ["foo"] = "bar", ["id"] = i.ToString() });
            await b.PublishAsync(sub.Topic, message);
        }

        // go-micro's test never checks what arrived; this one does.
        await Eventually.WaitUntil(() => received.Count == count, $"{count} messages");
        Assert.Equal(Enumerable.Range(0, count).Select(i => i.ToString()), received.Select(e => e.Message.Header["id"]));
        Assert.All(received, e => Assert.Equal("bar", e.Message.Header["foo"]));
        Assert.All(received, e => Assert.Equal("hello world", e.Message.BodyAsString()));

        await sub.UnsubscribeAsync();
        await b.DisconnectAsync();
    }

    [Fact]
    public async Task TestBroker()
    {
        var b = CreateBroker();
        await b.ConnectAsync();
        var msg = new Message("{\"message\": \"Hello World\"}"u8.ToArray(),
            new Dictionary<string, string> { ["Content-Type"] = "application/json" });
        var done = new TaskCompletionSource<IEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sub = await b.SubscribeAsync(Topics.Unique("test"), (p, _) =>
        {
            done.TrySetResult(p);
            return Task.CompletedTask;
        });

        await b.PublishAsync(sub.Topic, msg);
        var m = (await done.Task.WaitAsync(Eventually.DefaultTimeout)).Message;
        Assert.Equal(msg.BodyAsString(), m.BodyAsString());
        Assert.Equal("application/json", m.Header["Content-Type"]);

        await sub.UnsubscribeAsync();
        await b.DisconnectAsync();
    }

    [Fact]
    public async Task TestConcurrentSubBroker()
    {
        var b = CreateBroker();
        await b.ConnectAsync();
        var topic = Topics.Unique("test");
        var msg = Message.FromString("{\"message\": \"Hello World\"}", new Dictionary<string, string> { ["Content-Type"] = "application/json" });
        var subs = new List<ISubscriber>();
        var hits = new int[10];
        var bodies = new ConcurrentQueue<string>();
        for (var i = 0; i < 10; i++)
        {
            var index = i;
            subs.Add(await b.SubscribeAsync(topic, (p, _) =>
            {
                // Checked by the test, not here: an assert thrown in a handler goes to the ErrorHandler, not the test.
                bodies.Enqueue(p.Message.BodyAsString());
                Interlocked.Increment(ref hits[index]);
                return Task.CompletedTask;
            }));
        }

        await b.PublishAsync(topic, msg);
        await Eventually.WaitUntil(() => hits.All(h => Volatile.Read(ref h) == 1), "every subscriber to get the message");

        foreach (var sub in subs)
        {
            await sub.UnsubscribeAsync();
        }

        Assert.All(hits, h => Assert.Equal(1, h));
        Assert.Equal(Enumerable.Repeat(msg.BodyAsString(), 10), bodies);
        await b.DisconnectAsync();
    }

    [Fact]
    public async Task TestConcurrentPubBroker()
    {
        var b = CreateBroker();
        await b.ConnectAsync();
        var msg = Message.FromString("{\"message\": \"Hello World\"}", new Dictionary<string, string> { ["Content-Type"] = "application/json" });
        var received = 0;
        var bodies = new ConcurrentQueue<string>();
        var sub = await b.SubscribeAsync(Topics.Unique("test"), (p, _) =>
        {
            bodies.Enqueue(p.Message.BodyAsString());
            Interlocked.Increment(ref received);
            return Task.CompletedTask;
        });

        await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() => b.PublishAsync(sub.Topic, msg))));
        await Eventually.WaitUntil(() => Volatile.Read(ref received) == 10, "ten messages");

        await sub.UnsubscribeAsync();
        await b.DisconnectAsync();
        Assert.Equal(10, received);
        Assert.Equal(Enumerable.Repeat(msg.BodyAsString(), 10), bodies);
    }
}

public sealed class MemoryGoMicroBrokerTests : GoMicroBrokerTests
{
    protected override IBroker CreateBroker() => new MemoryBroker();
}

[Collection(ClusterCollection.Name)]
public sealed class ClusterGoMicroBrokerTests(ClusterFixture fixture) : GoMicroBrokerTests
{
    protected override IBroker CreateBroker() => new ClusterBroker(fixture.Cluster.Client);
}
