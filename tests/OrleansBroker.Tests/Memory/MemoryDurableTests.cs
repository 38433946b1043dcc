using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Memory;

/// <summary>
/// MemoryBroker-only durable tests: its timing on a fake clock, to the millisecond (the conformance
/// suite runs on real time and can only bound it from below), and its readings of points the contract
/// leaves open (docs/durable.md). The clock moves only when a test advances it, and the broker handles
/// a due timer inside <see cref="FakeTimeProvider.Advance"/>, so its figures can be read at once.
/// </summary>
public sealed class MemoryDurableTests
{
    private const string Queue = "workers";
    private static readonly TimeSpan OneMs = TimeSpan.FromMilliseconds(1);

    private readonly FakeTimeProvider _time = new();
    private readonly ConcurrentQueue<IEvent> _errors = new();

    private async Task<MemoryBroker> ConnectedBroker()
    {
        var broker = new MemoryBroker(new BrokerOptions
        {
            ErrorHandler = (evt, _) =>
            {
                _errors.Enqueue(evt);
                return Task.CompletedTask;
            },
        }, null, _time);
        await broker.ConnectAsync();
        return broker;
    }

    private static async Task<DurableInfo> Durable(MemoryBroker broker, string topic) =>
        (await broker.GetTopicAsync(topic))!.Durables.Single(d => d.Queue == Queue);

    [Fact]
    public async Task Backoff_IsOneSecond_DoublingWithEachDelivery_CappedAtAckWait()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("clock.backoff");
        await using var sub = await broker.SubscribeAsync(topic, (_, _) => throw new InvalidOperationException("always fails"),
            new SubscribeOptions { Queue = Queue, Durable = true, AckWait = TimeSpan.FromSeconds(3) });
        await broker.PublishAsync(topic, Message.FromString("x"));

        // After delivery n fails: 1 s, 2 s, then 4 s capped at AckWait (3 s), then 3 s again.
        TimeSpan[] backoffs = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3)];
        for (var n = 0; n < backoffs.Length; n++)
        {
            // The failed event is nakked before the ErrorHandler sees it.
            await Eventually.WaitUntil(() => _errors.Count == n + 1, $"delivery {n + 1} to fail");
            _time.Advance(backoffs[n] - OneMs);
            Assert.Equal(n, (await Durable(broker, topic)).Redelivered);
            _time.Advance(OneMs);
            Assert.Equal(n + 1, (await Durable(broker, topic)).Redelivered);
        }

        await Eventually.WaitUntil(() => _errors.Count == backoffs.Length + 1, "the last delivery to fail");
        Assert.Equal(Enumerable.Range(1, backoffs.Length + 1), _errors.Select(e => e.DeliveryCount));
    }

    [Fact]
    public async Task AckWait_RunsFromTheHandlersReceipt_ToTheMillisecond()
    {
        var ackWait = TimeSpan.FromSeconds(10);
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("clock.ackwait");
        var collector = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, collector.Handler,
            new SubscribeOptions { Queue = Queue, Durable = true, AutoAck = false, AckWait = ackWait });
        await broker.PublishAsync(topic, Message.FromString("x"));
        await collector.WaitForCount(1);

        _time.Advance(ackWait - OneMs);
        Assert.Equal(0, (await Durable(broker, topic)).Redelivered);
        _time.Advance(OneMs);
        await collector.WaitForCount(2);
        Assert.Equal(2, collector.Events[1].DeliveryCount);

        // The late ack of the first delivery changes nothing; the second's ack settles it.
        await collector.Events[0].AckAsync();
        Assert.Equal(1, (await Durable(broker, topic)).Backlog);
        await collector.Events[1].AckAsync();
        Assert.Equal(0, (await Durable(broker, topic)).Backlog);
    }

    [Fact]
    public async Task AMessageQueuedBehindABusyHandler_IsNotTimed_UntilTheHandlerHasIt()
    {
        var ackWait = TimeSpan.FromSeconds(5);
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("clock.queued");
        var seen = new ConcurrentQueue<(string Body, int Count)>();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sub = await broker.SubscribeAsync(topic, async (evt, _) =>
        {
            seen.Enqueue((evt.Message.BodyAsString(), evt.DeliveryCount));
            if (seen.Count == 1)
            {
                await release.Task;
            }
        }, new SubscribeOptions { Queue = Queue, Durable = true, AckWait = ackWait });
        await broker.PublishAsync(topic, Message.FromString("busy"));
        await broker.PublishAsync(topic, Message.FromString("queued"));
        await Eventually.WaitUntil(() => seen.Count == 1, "the first message to be in its handler");

        _time.Advance(ackWait * 10);
        // Only the message in its handler expired; the one behind it was never timed.
        var info = await Durable(broker, topic);
        Assert.Equal(1, info.Redelivered);
        Assert.Equal(2, info.Backlog);
        Assert.Equal(2, info.AckPending);

        release.SetResult();
        await Eventually.WaitUntil(async () => (await Durable(broker, topic)).Backlog == 0, "both acked");
        Assert.Equal([("busy", 1), ("queued", 1), ("busy", 2)], seen);
    }

    [Fact]
    public async Task NakDelay_IsKeptToTheMillisecond_AndZeroIsAtOnce()
    {
        var delay = TimeSpan.FromSeconds(5);
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("clock.nak");
        var collector = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, collector.Handler,
            new SubscribeOptions { Queue = Queue, Durable = true, AutoAck = false });
        await broker.PublishAsync(topic, Message.FromString("x"));
        await collector.WaitForCount(1);

        await collector.Events[0].NakAsync(delay);
        Assert.Equal(0, (await Durable(broker, topic)).AckPending);
        _time.Advance(delay - OneMs);
        Assert.Equal(0, (await Durable(broker, topic)).Redelivered);
        _time.Advance(OneMs);
        await collector.WaitForCount(2);

        // Zero: redelivered before the nak returns, with no time passing.
        await collector.Events[1].NakAsync(TimeSpan.Zero);
        Assert.Equal(2, (await Durable(broker, topic)).Redelivered);
        await collector.WaitForCount(3);
        Assert.Equal([1, 2, 3], collector.Events.Select(e => e.DeliveryCount));
    }

    [Fact]
    public async Task ATopicWithADurableSubscription_IsNeverForgotten_WhileIdle()
    {
        await using var broker = await ConnectedBroker();
        var kept = Topics.Unique("clock.kept");
        var member = await broker.SubscribeAsync(kept, new Collector().Handler, new SubscribeOptions { Queue = Queue, Durable = true });
        await member.UnsubscribeAsync();
        await broker.PublishAsync(kept, Message.FromString("kept for the durable subscription"));
        for (var i = 0; i < 5_000; i++)
        {
            await broker.PublishAsync($"orders.{i}", Message.FromString("x"));
        }

        _time.Advance(MemoryBroker.IdleTopicTimeout);
        for (var i = 5_000; i < 10_000; i++)
        {
            await broker.PublishAsync($"orders.{i}", Message.FromString("x"));
        }

        Assert.Null(await broker.GetTopicAsync("orders.0"));
        Assert.Equal(1, (await Durable(broker, kept)).Backlog);
    }

    [Fact]
    public async Task MaxPending_BoundsWhatOneMemberHoldsUnacked_AndNothingIsDropped()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("memory.maxpending");
        var small = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, small.Handler,
            new SubscribeOptions { Queue = Queue, Durable = true, AutoAck = false, MaxPending = 2 });
        for (var i = 0; i < 5; i++)
        {
            await broker.PublishAsync(topic, Message.FromString(i.ToString()));
        }

        await small.WaitForCount(2);
        Assert.Equal(new DurableInfo(Queue, 1, 5, 2, 0, 0), await Durable(broker, topic));
        Assert.Equal(0, (await broker.GetTopicAsync(topic))!.Dropped);
        for (var acked = 0; acked < 5; acked++)
        {
            await small.WaitForCount(acked + 1);
            Assert.True(small.Count <= acked + 2, $"{small.Count} held with {acked} acked; MaxPending is 2");
            await small.Events[acked].AckAsync();
        }

        Assert.Equal(["0", "1", "2", "3", "4"], small.Bodies);
    }

    [Fact]
    public async Task DeadLetters_IgnoreTheDeadLetterTopicsMaxBacklog_AndAreNotDeadLetteredAgain()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("memory.dlq");
        var deadLetters = DeadLetter.TopicOf(topic, Queue);

        // The dlq durable exists before the first dead letter, with a backlog of one and one delivery.
        var reader = await broker.SubscribeAsync(deadLetters, new Collector().Handler,
            new SubscribeOptions { Queue = DeadLetter.Queue, Durable = true, MaxBacklog = 1, MaxDeliver = 1 });
        await reader.UnsubscribeAsync();
        await using var sub = await broker.SubscribeAsync(topic, (evt, ct) => evt.NakAsync(TimeSpan.Zero, ct),
            new SubscribeOptions { Queue = Queue, Durable = true, AutoAck = false, MaxDeliver = 1 });
        await broker.PublishAsync(topic, Message.FromString("a"));
        await broker.PublishAsync(topic, Message.FromString("b"));
        await Eventually.WaitUntil(async () => (await Durable(broker, topic)).DeadLettered == 2, "two dead letters");
        Assert.Equal(2, (await broker.GetTopicAsync(deadLetters))!.Durables.Single().Backlog);

        // Nakked past its MaxDeliver, a dead letter comes back rather than going to "$DLQ.$DLQ...".
        var counts = new ConcurrentQueue<int>();
        await using var nakker = await broker.SubscribeAsync(deadLetters, async (evt, ct) =>
        {
            counts.Enqueue(evt.DeliveryCount);
            if (evt.DeliveryCount < 3)
            {
                await evt.NakAsync(TimeSpan.Zero, ct);
            }
            else
            {
                await evt.AckAsync(ct);
            }
        }, new SubscribeOptions { Queue = DeadLetter.Queue, Durable = true, AutoAck = false, MaxDeliver = 1 });
        await Eventually.WaitUntil(async () => (await broker.GetTopicAsync(deadLetters))!.Durables.Single().Backlog == 0, "both dead letters acked on their third delivery");
        Assert.Equal(0, (await broker.GetTopicAsync(deadLetters))!.Durables.Single().DeadLettered);
        Assert.Equal(6, counts.Count);
        Assert.DoesNotContain(await broker.ListTopicsAsync(), t => t.Topic.StartsWith("$DLQ.$", StringComparison.Ordinal));
    }
}
