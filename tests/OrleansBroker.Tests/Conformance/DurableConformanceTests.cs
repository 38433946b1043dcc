using System.Collections.Concurrent;
using System.Diagnostics;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Conformance;

/// <summary>
/// API.md's "Durable subscriptions: at-least-once", written once and run against every broker.
/// Real time only (a cluster has no fake clock): redelivery tests use a short AckWait and assert
/// lower bounds on timing, never upper bounds tighter than <see cref="Deadline"/>; every wait is on
/// an event or a polled condition with a deadline, never a bare sleep.
/// </summary>
public abstract class DurableConformanceTests
{
    private const string Queue = "workers";

    /// <summary>A new broker, not yet connected.</summary>
    protected abstract IBroker CreateBroker(BrokerOptions? options = null);

    /// <summary>An AckWait short enough to wait for in a test, long enough that a prompt ack beats it.</summary>
    protected virtual TimeSpan ShortAckWait => TimeSpan.FromMilliseconds(300);

    /// <summary>How long anything that should happen soon may take on a loaded two-core machine.</summary>
    protected virtual TimeSpan Deadline => TimeSpan.FromSeconds(30);

    /// <summary>An AckWait long enough that nothing in a test is redelivered by it.</summary>
    private static readonly TimeSpan LongAckWait = TimeSpan.FromMinutes(5);

    protected async Task<IBroker> ConnectedBroker(BrokerOptions? options = null)
    {
        var broker = CreateBroker(options);
        await broker.ConnectAsync();
        return broker;
    }

    private static IBrokerAdmin Admin(IBroker broker) => (IBrokerAdmin)broker;

    private static SubscribeOptions Durable(string queue = Queue) => new() { Queue = queue, Durable = true, AckWait = LongAckWait };

    private static Task Publish(IBroker broker, string topic, params string[] bodies) =>
        PublishRange(broker, topic, bodies);

    private static async Task PublishRange(IBroker broker, string topic, IEnumerable<string> bodies)
    {
        foreach (var body in bodies)
        {
            await broker.PublishAsync(topic, Message.FromString(body));
        }
    }

    private static IEnumerable<string> Numbers(int count, int from = 0) => Enumerable.Range(from, count).Select(i => i.ToString());

    private static async Task<DurableInfo?> DurableOf(IBroker broker, string topic, string queue = Queue) =>
        (await Admin(broker).GetTopicAsync(topic))?.Durables.SingleOrDefault(d => d.Queue == queue);

    private Task WaitForDurable(IBroker broker, string topic, Func<DurableInfo, bool> condition, string what, string queue = Queue) =>
        Eventually.WaitUntil(async () => await DurableOf(broker, topic, queue) is { } info && condition(info), what, Deadline);

    private Task WaitFor(Func<bool> condition, string what) => Eventually.WaitUntil(condition, what, Deadline);

    // ---- Input rules ----

    [Fact]
    public async Task Subscribe_DurableWithoutQueue_ThrowsInvalidQueue_AndCreatesNothing()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.noqueue");
        var error = await Assert.ThrowsAsync<BrokerException>(
            () => broker.SubscribeAsync(topic, new Collector().Handler, new SubscribeOptions { Durable = true }));
        Assert.Equal(BrokerErrorCode.InvalidQueue, error.Code);
        Assert.Null(await Admin(broker).GetTopicAsync(topic));
    }

    public static TheoryData<string> OutOfRangeOptions() =>
    [
        "AckWait=0", "AckWait=-1s", "MaxDeliver=0", "MaxAckPending=0", "MaxBacklog=0", "MaxPending=0", "plain MaxPending=0", "plain MaxDeliver=0",
    ];

    [Theory]
    [MemberData(nameof(OutOfRangeOptions))]
    public async Task Subscribe_OutOfRangeOption_ThrowsArgumentOutOfRange_AndCreatesNothing(string option)
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.range");
        var options = option switch
        {
            "AckWait=0" => Durable() with { AckWait = TimeSpan.Zero },
            "AckWait=-1s" => Durable() with { AckWait = TimeSpan.FromSeconds(-1) },
            "MaxDeliver=0" => Durable() with { MaxDeliver = 0 },
            "MaxAckPending=0" => Durable() with { MaxAckPending = 0 },
            "MaxBacklog=0" => Durable() with { MaxBacklog = 0 },
            "MaxPending=0" => Durable() with { MaxPending = 0 },
            "plain MaxPending=0" => new SubscribeOptions { MaxPending = 0 },
            "plain MaxDeliver=0" => new SubscribeOptions { Queue = Queue, MaxDeliver = 0 },
            _ => throw new ArgumentOutOfRangeException(nameof(option)),
        };

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => broker.SubscribeAsync(topic, new Collector().Handler, options));
        Assert.Null(await Admin(broker).GetTopicAsync(topic));
    }

    [Fact]
    public async Task Nak_NegativeDelay_ThrowsArgumentOutOfRange_OnDurableAndPlainEvents()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.negnak");
        var durable = new Collector();
        var plain = new Collector();
        await using var durableSub = await broker.SubscribeAsync(topic, durable.Handler, Durable() with { AutoAck = false });
        await using var plainSub = await broker.SubscribeAsync(topic, plain.Handler, new SubscribeOptions { AutoAck = false });
        await Publish(broker, topic, "x");
        await durable.WaitForCount(1, Deadline);
        await plain.WaitForCount(1, Deadline);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => durable.Events[0].NakAsync(TimeSpan.FromMilliseconds(-1)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => plain.Events[0].NakAsync(TimeSpan.FromMilliseconds(-1)));

        // The refused nak settled nothing: the ack still counts.
        await durable.Events[0].AckAsync();
        await WaitForDurable(broker, topic, d => d.Backlog == 0, "the ack to count after a refused nak");
    }

    [Theory]
    [InlineData("$DLQ.orders.workers")]
    [InlineData("$anything")]
    public async Task Publish_ToAnyDollarTopic_ThrowsInvalidTopic(string topic)
    {
        await using var broker = await ConnectedBroker();
        var error = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(topic, Message.FromString("x")));
        Assert.Equal(BrokerErrorCode.InvalidTopic, error.Code);
    }

    [Fact]
    public async Task DeleteDurable_InvalidTopicOrQueue_Throws()
    {
        await using var broker = await ConnectedBroker();
        var topic = await Assert.ThrowsAsync<BrokerException>(() => Admin(broker).DeleteDurableAsync("bad topic", Queue));
        Assert.Equal(BrokerErrorCode.InvalidTopic, topic.Code);
        var queue = await Assert.ThrowsAsync<BrokerException>(() => Admin(broker).DeleteDurableAsync(Topics.Unique(), "bad queue"));
        Assert.Equal(BrokerErrorCode.InvalidQueue, queue.Code);
    }

    // ---- Lifetime ----

    [Fact]
    public async Task Durable_OutlivesUnsubscribe_KeepsEveryMessage_AndDeliversThemInPublishOrderOnResubscribe()
    {
        const int count = 200;
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.lifetime");
        var first = await broker.SubscribeAsync(topic, new Collector().Handler, Durable());
        await first.UnsubscribeAsync();

        // Not awaited one by one: a publisher's order is kept however its publishes overlap.
        await Task.WhenAll(Numbers(count).Select(b => broker.PublishAsync(topic, Message.FromString(b))));
        var kept = await DurableOf(broker, topic);
        Assert.NotNull(kept);
        Assert.Equal(0, kept.Members);
        Assert.Equal(count, kept.Backlog);
        Assert.Equal(0, kept.AckPending);

        var collector = new Collector();
        await using var again = await broker.SubscribeAsync(topic, collector.Handler, Durable());
        await collector.WaitForCount(count, Deadline);
        Assert.Equal(Numbers(count), collector.Bodies);
        Assert.All(collector.Events, e => Assert.Equal(1, e.DeliveryCount));
        await WaitForDurable(broker, topic, d => d.Backlog == 0 && d.AckPending == 0 && d.Members == 1, "every message acked");
    }

    [Fact]
    public async Task Disconnect_EndsTheMember_NotTheDurable()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.disconnect");
        await broker.SubscribeAsync(topic, new Collector().Handler, Durable());
        await broker.DisconnectAsync();
        await broker.ConnectAsync();

        await Publish(broker, topic, "a", "b", "c");
        var kept = await DurableOf(broker, topic);
        Assert.Equal(0, kept!.Members);
        Assert.Equal(3, kept.Backlog);

        var collector = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, collector.Handler, Durable());
        await collector.WaitForCount(3, Deadline);
        Assert.Equal(["a", "b", "c"], collector.Bodies);
    }

    [Fact]
    public async Task DurableAndPlainQueueGroupOfTheSameName_AreTwoSubscriptions()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.samename");
        var durable = new Collector();
        var plain = new Collector();
        await using var durableSub = await broker.SubscribeAsync(topic, durable.Handler, Durable());
        await using var plainSub = await broker.SubscribeAsync(topic, plain.Handler, new SubscribeOptions { Queue = Queue });
        await Publish(broker, topic, "1", "2", "3");

        await durable.WaitForCount(3, Deadline);
        await plain.WaitForCount(3, Deadline);
        Assert.Equal(["1", "2", "3"], durable.Bodies);
        Assert.Equal(["1", "2", "3"], plain.Bodies);
        await WaitForDurable(broker, topic, d => d.Backlog == 0, "the durable's acks");

        // The plain group leaving takes nothing from the durable subscription.
        await plainSub.UnsubscribeAsync();
        await durableSub.UnsubscribeAsync();
        await Publish(broker, topic, "4");
        Assert.Equal(1, (await DurableOf(broker, topic))!.Backlog);
    }

    [Fact]
    public async Task LatestSubscribe_SetsTheOptions()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.latest");
        var first = await broker.SubscribeAsync(topic, new Collector().Handler, Durable() with { MaxBacklog = 2 });
        await first.UnsubscribeAsync();
        await Publish(broker, topic, "1", "2");
        var full = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(topic, Message.FromString("3")));
        Assert.Equal(BrokerErrorCode.BacklogFull, full.Code);

        // A member that acks nothing: the backlog counts what waits for its ack.
        var holder = new Collector();
        await using var second = await broker.SubscribeAsync(topic, holder.Handler, Durable() with { MaxBacklog = 4, AutoAck = false });
        await Publish(broker, topic, "3", "4");
        var stillFull = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(topic, Message.FromString("5")));
        Assert.Equal(BrokerErrorCode.BacklogFull, stillFull.Code);
        await holder.WaitForCount(4, Deadline);
        Assert.Equal(["1", "2", "3", "4"], holder.Bodies);
    }

    // ---- Delivery ----

    [Fact]
    public async Task Members_ShareTheMessages_EachToOneMember()
    {
        const int count = 200;
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.share");
        var a = new Collector();
        var b = new Collector();
        await using var subA = await broker.SubscribeAsync(topic, a.Handler, Durable());
        await using var subB = await broker.SubscribeAsync(topic, b.Handler, Durable());
        await PublishRange(broker, topic, Numbers(count));

        await WaitFor(() => a.Count + b.Count >= count, "every message handled");
        await WaitForDurable(broker, topic, d => d.Backlog == 0, "every message acked");
        var all = a.Bodies.Concat(b.Bodies).ToList();
        Assert.Equal(count, all.Count);
        Assert.Equal(count, all.Distinct().Count());
        Assert.True(a.Count > 0 && b.Count > 0, $"both members take a share ({a.Count}, {b.Count})");

        // Each member sees its share in publish order.
        Assert.Equal(a.Bodies.OrderBy(int.Parse), a.Bodies);
        Assert.Equal(b.Bodies.OrderBy(int.Parse), b.Bodies);
        var info = await DurableOf(broker, topic);
        Assert.Equal(2, info!.Members);
        Assert.Equal(0, info.Redelivered);
    }

    [Fact]
    public async Task MaxAckPending_StallsDeliveryAcrossMembers_AndAcksResumeIt()
    {
        const int count = 10;
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.ackpending");
        var a = new Collector();
        var b = new Collector();
        var options = Durable() with { AutoAck = false, MaxAckPending = 3 };
        await using var subA = await broker.SubscribeAsync(topic, a.Handler, options);
        await using var subB = await broker.SubscribeAsync(topic, b.Handler, options);
        await PublishRange(broker, topic, Numbers(count));

        // The broker says three are out; no member holds more than it says.
        await WaitFor(() => a.Count + b.Count >= 3, "three deliveries");
        await WaitForDurable(broker, topic, d => d.AckPending == 3 && d.Backlog == count, "three out, ten kept");
        Assert.Equal(3, a.Count + b.Count);

        var acked = new HashSet<IEvent>();
        while (acked.Count < count)
        {
            var next = a.Events.Concat(b.Events).FirstOrDefault(e => !acked.Contains(e));
            if (next is null)
            {
                await WaitFor(() => a.Count + b.Count > acked.Count, $"delivery {acked.Count + 1} after an ack");
                continue;
            }

            await next.AckAsync();
            acked.Add(next);
            Assert.True(a.Count + b.Count <= acked.Count + 3, "never more than MaxAckPending out");
        }

        Assert.Equal(Numbers(count).ToHashSet(), a.Bodies.Concat(b.Bodies).ToHashSet());
        await WaitForDurable(broker, topic, d => d.Backlog == 0 && d.AckPending == 0, "every message acked");
    }

    [Fact]
    public async Task NoAckWithinAckWait_AutoAckFalse_IsRedelivered_WithDeliveryCount2()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.ackwait");
        var deliveries = new Deliveries();
        await using var sub = await broker.SubscribeAsync(topic, deliveries.Handler, Durable() with { AutoAck = false, AckWait = ShortAckWait });
        await Publish(broker, topic, "x");

        await deliveries.WaitForCount(2, Deadline);
        Assert.True(deliveries.Between(0, 1) >= ShortAckWait * 0.9, $"redelivered {deliveries.Between(0, 1)} after the first delivery, before AckWait");
        Assert.Equal([1, 2], deliveries.DeliveryCounts.Take(2));
        Assert.Equal("x", deliveries.Events[1].Message.BodyAsString());

        await deliveries.Events[^1].AckAsync();
        await WaitForDurable(broker, topic, d => d.Backlog == 0 && d.Redelivered >= 1, "the redelivered message acked");
    }

    [Fact]
    public async Task AckWait_StartsWhenTheHandlerReceivesTheMessage_NotWhileItWaitsBehindAnother()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.ackwaitstart");
        var seen = new ConcurrentQueue<(string Body, int Count)>();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sub = await broker.SubscribeAsync(topic, async (evt, _) =>
        {
            seen.Enqueue((evt.Message.BodyAsString(), evt.DeliveryCount));
            if (evt.Message.BodyAsString() == "slow" && evt.DeliveryCount == 1)
            {
                await release.Task;
            }
        }, Durable() with { AckWait = ShortAckWait });
        await Publish(broker, topic, "slow", "queued");

        // "slow" outlives its AckWait while "queued" waits behind it on the same member.
        await WaitForDurable(broker, topic, d => d.Redelivered >= 1, "the slow message to expire");
        release.SetResult();
        await WaitForDurable(broker, topic, d => d.Backlog == 0, "both messages acked");

        var queued = seen.Where(s => s.Body == "queued").ToList();
        Assert.Equal([("queued", 1)], queued);
        Assert.Contains(("slow", 2), seen);
    }

    [Fact]
    public async Task NakZero_RedeliversAtOnce()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.nakzero");
        var deliveries = new Deliveries((evt, ct) => evt.DeliveryCount == 1 ? evt.NakAsync(TimeSpan.Zero, ct) : evt.AckAsync(ct));
        await using var sub = await broker.SubscribeAsync(topic, deliveries.Handler, Durable() with { AutoAck = false });
        await Publish(broker, topic, "x");

        // AckWait is minutes: only the nak can bring it back within the deadline.
        await WaitForDurable(broker, topic, d => d.Backlog == 0, "the nakked message redelivered and acked");
        Assert.Equal([1, 2], deliveries.DeliveryCounts);
    }

    [Fact]
    public async Task NakWithDelay_RedeliversAfterTheDelay()
    {
        var delay = TimeSpan.FromMilliseconds(700);
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.nakdelay");
        var deliveries = new Deliveries((evt, ct) => evt.DeliveryCount == 1 ? evt.NakAsync(delay, ct) : evt.AckAsync(ct));
        await using var sub = await broker.SubscribeAsync(topic, deliveries.Handler, Durable() with { AutoAck = false });
        await Publish(broker, topic, "x");

        await WaitForDurable(broker, topic, d => d.Backlog == 0, "the nakked message redelivered and acked");
        Assert.Equal([1, 2], deliveries.DeliveryCounts);
        Assert.True(deliveries.Between(0, 1) >= delay * 0.9, $"redelivered {deliveries.Between(0, 1)} after a nak of {delay}");
    }

    [Fact]
    public async Task NakWithoutDelay_RedeliversAfterTheBackoff_OneSecondFirst()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.nakbackoff");
        var deliveries = new Deliveries((evt, ct) => evt.DeliveryCount == 1 ? evt.NakAsync(cancellationToken: ct) : evt.AckAsync(ct));
        await using var sub = await broker.SubscribeAsync(topic, deliveries.Handler, Durable() with { AutoAck = false });
        await Publish(broker, topic, "x");

        await WaitForDurable(broker, topic, d => d.Backlog == 0, "the nakked message redelivered and acked");
        Assert.Equal([1, 2], deliveries.DeliveryCounts);
        Assert.True(deliveries.Between(0, 1) >= TimeSpan.FromMilliseconds(900), $"redelivered {deliveries.Between(0, 1)} after a nak: the first backoff is 1 s");
    }

    [Fact]
    public async Task Backoff_IsCappedAtAckWait()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.backoffcap");
        var deliveries = new Deliveries((evt, ct) => evt.DeliveryCount < 4 ? evt.NakAsync(cancellationToken: ct) : evt.AckAsync(ct));
        await using var sub = await broker.SubscribeAsync(topic, deliveries.Handler, Durable() with { AutoAck = false, AckWait = ShortAckWait });
        await Publish(broker, topic, "x");

        await WaitForDurable(broker, topic, d => d.Backlog == 0, "the fourth delivery acked");
        Assert.Equal([1, 2, 3, 4], deliveries.DeliveryCounts);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(deliveries.Between(i, i + 1) >= ShortAckWait * 0.9, $"delivery {i + 2} came {deliveries.Between(i, i + 1)} after the nak");
        }

        // Uncapped, the three backoffs would take 1 + 2 + 4 s.
        Assert.True(deliveries.Between(0, 3) < TimeSpan.FromSeconds(5), $"four deliveries took {deliveries.Between(0, 3)}");
    }

    [Fact]
    public async Task HandlerThrows_IsRedeliveredAfterTheBackoff_EvenWithAutoAck_AndErrorHandlerSeesIt()
    {
        var errors = new ConcurrentQueue<IEvent>();
        await using var broker = await ConnectedBroker(new BrokerOptions
        {
            ErrorHandler = (evt, _) =>
            {
                errors.Enqueue(evt);
                return Task.CompletedTask;
            },
        });
        var topic = Topics.Unique("durable.throws");
        var deliveries = new Deliveries((evt, _) => evt.DeliveryCount == 1
            ? throw new InvalidOperationException("first delivery fails")
            : Task.CompletedTask);
        await using var sub = await broker.SubscribeAsync(topic, deliveries.Handler, Durable());
        await Publish(broker, topic, "x");

        await WaitForDurable(broker, topic, d => d.Backlog == 0, "the second delivery auto-acked");
        Assert.Equal([1, 2], deliveries.DeliveryCounts);
        Assert.True(deliveries.Between(0, 1) >= TimeSpan.FromMilliseconds(900), $"redelivered {deliveries.Between(0, 1)} after the failure: the first backoff is 1 s");
        Assert.IsType<InvalidOperationException>(Assert.Single(errors).Error);
    }

    [Fact]
    public async Task LateAck_AfterRedelivery_ChangesNothing()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.lateack");
        var deliveries = new Deliveries();
        await using var sub = await broker.SubscribeAsync(topic, deliveries.Handler, Durable() with { AutoAck = false, AckWait = ShortAckWait });
        await Publish(broker, topic, "x");

        await deliveries.WaitForCount(2, Deadline);
        await deliveries.Events[0].AckAsync();

        // The first delivery's ack came after the redelivery: the second is still unacked, so it comes again.
        await deliveries.WaitForCount(3, Deadline);
        Assert.Equal([1, 2, 3], deliveries.DeliveryCounts.Take(3));
        await deliveries.Events[^1].AckAsync();
        await WaitForDurable(broker, topic, d => d.Backlog == 0, "the last delivery acked");
    }

    [Fact]
    public async Task LateAck_AfterHandover_ChangesNothing()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.lateackhandover");
        var leaver = new Deliveries();
        var stayer = new Deliveries();
        var leaving = await broker.SubscribeAsync(topic, leaver.Handler, Durable() with { AutoAck = false });
        await Publish(broker, topic, "x");
        await leaver.WaitForCount(1, Deadline);
        await using var staying = await broker.SubscribeAsync(topic, stayer.Handler, Durable() with { AutoAck = false });
        await leaving.UnsubscribeAsync();
        await stayer.WaitForCount(1, Deadline);

        await leaver.Events[0].AckAsync();

        // Had the leaver's late ack settled the message, the stayer's nak would bring nothing back.
        await stayer.Events[0].NakAsync(TimeSpan.Zero);
        await stayer.WaitForCount(2, Deadline);
        await stayer.Events[1].AckAsync();
        await WaitForDurable(broker, topic, d => d.Backlog == 0, "the stayer's ack");
    }

    [Fact]
    public async Task MemberLeaving_HandsItsUnackedMessagesToTheOtherMember_AtOnce()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.handover");
        var leaver = new Collector();
        var stayer = new Collector();
        var options = Durable() with { AutoAck = false };
        var leaving = await broker.SubscribeAsync(topic, leaver.Handler, options);
        await Publish(broker, topic, "1", "2", "3", "4", "5");
        await leaver.WaitForCount(5, Deadline);
        await using var staying = await broker.SubscribeAsync(topic, stayer.Handler, options);

        // AckWait is minutes: only the handover brings them to the stayer within the deadline.
        await leaving.UnsubscribeAsync();
        await stayer.WaitForCount(5, Deadline);
        Assert.Equal(["1", "2", "3", "4", "5"], stayer.Bodies.Order());
        Assert.All(stayer.Events, e => Assert.True(e.DeliveryCount >= 2, "the leaver's handler had received each once"));
        foreach (var e in stayer.Events)
        {
            await e.AckAsync();
        }

        await WaitForDurable(broker, topic, d => d.Backlog == 0 && d.Members == 1, "the stayer's acks");
    }

    [Fact]
    public async Task UnderLoad_WithFailuresAndAMemberLeaving_EveryMessageIsHandled_AndNothingIsLeft()
    {
        const int count = 2_000;
        await using var broker = await ConnectedBroker(new BrokerOptions { ErrorHandler = (_, _) => Task.CompletedTask });
        var topic = Topics.Unique("durable.load");
        var handled = new ConcurrentDictionary<string, int>();
        MessageHandler handler = (evt, _) =>
        {
            var body = evt.Message.BodyAsString();

            // One in twenty fails on its first delivery and comes back after the backoff.
            if (evt.DeliveryCount == 1 && int.Parse(body) % 20 == 0)
            {
                throw new InvalidOperationException("transient");
            }

            handled.AddOrUpdate(body, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        };
        var options = Durable() with { AckWait = TimeSpan.FromSeconds(5), MaxAckPending = 100 };
        var leaving = await broker.SubscribeAsync(topic, handler, options);
        await using var staying = await broker.SubscribeAsync(topic, handler, options);

        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < count; i += 100)
            {
                await Task.WhenAll(Numbers(100, i).Select(b => broker.PublishAsync(topic, Message.FromString(b))));
            }
        });
        await WaitFor(() => handled.Count >= count / 4, "a quarter handled");
        await leaving.UnsubscribeAsync();
        await publishing;

        await WaitForDurable(broker, topic, d => d.Backlog == 0 && d.AckPending == 0, "every message acked");
        Assert.Equal(Numbers(count).ToHashSet(), handled.Keys.ToHashSet());
        var info = await DurableOf(broker, topic);
        Assert.Equal(1, info!.Members);
        Assert.True(info.Redelivered >= count / 20, $"{info.Redelivered} redeliveries; {count / 20} failed first deliveries");
        Assert.Equal(0, info.DeadLettered);
    }

    // ---- Dead letters ----

    [Fact]
    public async Task MaxDeliver_DeadLettersWithTheThreeHeaders_IntoADlqDurableThatKeepsItUntilRead()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.poison");
        var deadLetters = DeadLetter.TopicOf(topic, Queue);
        var counts = new ConcurrentQueue<int>();
        await using var sub = await broker.SubscribeAsync(topic, async (evt, ct) =>
        {
            counts.Enqueue(evt.DeliveryCount);
            await evt.NakAsync(TimeSpan.Zero, ct);
        }, Durable() with { AutoAck = false, MaxDeliver = 3 });
        await broker.PublishAsync(topic, Message.FromString("poison", new Dictionary<string, string> { ["k"] = "v" }));

        await WaitForDurable(broker, topic, d => d.DeadLettered == 1 && d.Backlog == 0, "the message dead-lettered");
        Assert.Equal([1, 2, 3], counts);
        var dlqTopic = await Admin(broker).GetTopicAsync(deadLetters);
        Assert.NotNull(dlqTopic);
        var dlq = Assert.Single(dlqTopic.Durables);
        Assert.Equal(DeadLetter.Queue, dlq.Queue);
        Assert.Equal(0, dlq.Members);
        Assert.Equal(1, dlq.Backlog);
        Assert.Contains((await Admin(broker).ListTopicsAsync()), t => t.Topic == deadLetters);

        // Read later, as any durable subscription.
        var reader = new Collector();
        await using var readerSub = await broker.SubscribeAsync(deadLetters, reader.Handler,
            new SubscribeOptions { Queue = DeadLetter.Queue, Durable = true });
        await reader.WaitForCount(1, Deadline);
        var letter = reader.Events[0];
        Assert.Equal(deadLetters, letter.Topic);
        Assert.Equal("poison", letter.Message.BodyAsString());
        Assert.Equal("v", letter.Message.Header["k"]);
        Assert.Equal(DeadLetter.MaxDeliverReason, letter.Message.Header[DeadLetter.ReasonHeader]);
        Assert.Equal("max-deliver", letter.Message.Header[DeadLetter.ReasonHeader]);
        Assert.Equal(topic, letter.Message.Header[DeadLetter.OriginalTopicHeader]);
        Assert.Equal("3", letter.Message.Header[DeadLetter.DeliveryCountHeader]);
        await WaitForDurable(broker, deadLetters, d => d.Backlog == 0, "the dead letter acked", DeadLetter.Queue);

        Assert.True(await Admin(broker).DeleteDurableAsync(deadLetters, DeadLetter.Queue));
        Assert.Empty((await Admin(broker).GetTopicAsync(deadLetters))?.Durables ?? []);
    }

    [Fact]
    public async Task HandlerThatAlwaysThrows_IsDeadLettered_AndLaterMessagesStillFlow()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.poisonthrow");
        var good = new ConcurrentQueue<string>();
        await using var sub = await broker.SubscribeAsync(topic, (evt, _) =>
        {
            if (evt.Message.BodyAsString() == "poison")
            {
                throw new InvalidOperationException("poison");
            }

            good.Enqueue(evt.Message.BodyAsString());
            return Task.CompletedTask;
        }, Durable() with { MaxDeliver = 2, AckWait = ShortAckWait });
        await Publish(broker, topic, "poison", "fine");

        await WaitForDurable(broker, topic, d => d.DeadLettered == 1 && d.Backlog == 0, "the poison dead-lettered, the rest acked");
        Assert.Equal(["fine"], good.Distinct());
        var dlq = (await Admin(broker).GetTopicAsync(DeadLetter.TopicOf(topic, Queue)))!.Durables.Single();
        Assert.Equal(1, dlq.Backlog);
    }

    [Fact]
    public async Task DeadLetterTopic_MayBeSubscribedPlain_AndSeesLaterDeadLetters()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.dlqplain");
        var watcher = new Collector();
        await using var watch = await broker.SubscribeAsync(DeadLetter.TopicOf(topic, Queue), watcher.Handler);
        await using var sub = await broker.SubscribeAsync(topic, (evt, ct) => evt.NakAsync(TimeSpan.Zero, ct),
            Durable() with { AutoAck = false, MaxDeliver = 1 });
        await Publish(broker, topic, "poison");

        await watcher.WaitForCount(1, Deadline);
        Assert.Equal("1", watcher.Events[0].Message.Header[DeadLetter.DeliveryCountHeader]);

        // The dlq durable keeps its copy whether or not anyone else watches.
        await WaitForDurable(broker, DeadLetter.TopicOf(topic, Queue), d => d.Backlog == 1, "the dlq durable's copy", DeadLetter.Queue);
    }

    // ---- Backlog ----

    [Fact]
    public async Task BacklogFull_RefusesPublishesToTheTopic_AndLosesNothingAccepted()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.backlogfull");
        var plain = new Collector();
        await using var plainSub = await broker.SubscribeAsync(topic, plain.Handler);
        var first = await broker.SubscribeAsync(topic, new Collector().Handler, Durable() with { MaxBacklog = 3 });
        await first.UnsubscribeAsync();
        await Publish(broker, topic, "1", "2", "3");

        var error = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(topic, Message.FromString("refused")));
        Assert.Equal(BrokerErrorCode.BacklogFull, error.Code);
        await plain.WaitForCount(3, Deadline);
        var info = await Admin(broker).GetTopicAsync(topic);
        Assert.Equal(3, info!.Published);
        Assert.Equal(3, info.Durables.Single().Backlog);

        var reader = new Collector();
        await using var readerSub = await broker.SubscribeAsync(topic, reader.Handler, Durable() with { MaxBacklog = 3 });
        await reader.WaitForCount(3, Deadline);
        Assert.Equal(["1", "2", "3"], reader.Bodies);
        await WaitForDurable(broker, topic, d => d.Backlog == 0, "the backlog read");

        await Publish(broker, topic, "4");
        await reader.WaitForCount(4, Deadline);
        await plain.WaitForCount(4, Deadline);
        Assert.Equal(["1", "2", "3", "4"], reader.Bodies);
        Assert.Equal(["1", "2", "3", "4"], plain.Bodies);
    }

    [Fact]
    public async Task DeleteDurable_EndsItsMembers_DropsItsBacklog_TrueThenFalse()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.delete");
        var member = new Collector();
        var sub = await broker.SubscribeAsync(topic, member.Handler, Durable() with { AutoAck = false, MaxAckPending = 2 });
        await Publish(broker, topic, "1", "2", "3", "4", "5");
        await member.WaitForCount(2, Deadline);

        Assert.True(await Admin(broker).DeleteDurableAsync(topic, Queue));
        var info = await Admin(broker).GetTopicAsync(topic);
        Assert.Empty(info?.Durables ?? []);
        Assert.Equal(0, info?.Subscribers ?? 0);
        Assert.False(await Admin(broker).DeleteDurableAsync(topic, Queue));
        Assert.False(await Admin(broker).DeleteDurableAsync(Topics.Unique("never.used"), Queue));
        await sub.UnsubscribeAsync(); // the member already ended: a no-op

        // Acks for a deleted subscription change nothing; a new one of the same name starts empty.
        await member.Events[0].AckAsync();
        var fresh = new Collector();
        await using var freshSub = await broker.SubscribeAsync(topic, fresh.Handler, Durable());
        await Publish(broker, topic, "6");
        await fresh.WaitForCount(1, Deadline);
        Assert.Equal(["6"], fresh.Bodies);
        Assert.Equal(2, member.Count);
        await WaitForDurable(broker, topic, d => d.Backlog == 0, "the new subscription's ack");
    }

    [Fact]
    public async Task TopicInfo_ListsEachDurable_OrderedByQueue_WithItsFigures()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.info");
        Assert.Empty((await Admin(broker).ListTopicsAsync()).FirstOrDefault(t => t.Topic == topic)?.Durables ?? []);

        var holder = new Collector();
        await using var holding = await broker.SubscribeAsync(topic, holder.Handler, Durable("b-holder") with { AutoAck = false, MaxAckPending = 2 });
        var gone = await broker.SubscribeAsync(topic, new Collector().Handler, Durable("a-nobody"));
        await gone.UnsubscribeAsync();
        var nakker = new ConcurrentQueue<int>();
        await using var nakking = await broker.SubscribeAsync(topic, async (evt, ct) =>
        {
            nakker.Enqueue(evt.DeliveryCount);
            await evt.NakAsync(TimeSpan.Zero, ct);
        }, Durable("c-nakker") with { AutoAck = false, MaxDeliver = 2 });
        await Publish(broker, topic, "1", "2", "3");

        await holder.WaitForCount(2, Deadline);
        await WaitForDurable(broker, topic, d => d.DeadLettered == 3, "the nakker's messages dead-lettered", "c-nakker");
        var info = (await Admin(broker).ListTopicsAsync()).Single(t => t.Topic == topic);
        Assert.Equal(["a-nobody", "b-holder", "c-nakker"], info.Durables.Select(d => d.Queue));
        Assert.Equal(new DurableInfo("a-nobody", 0, 3, 0, 0, 0), info.Durables[0] with { Host = null });
        Assert.Equal(new DurableInfo("b-holder", 1, 3, 2, 0, 0), info.Durables[1] with { Host = null });
        Assert.Equal(new DurableInfo("c-nakker", 1, 0, 0, 3, 3), info.Durables[2] with { Host = null });
        Assert.Equal(2, info.Subscribers);
        Assert.Equal(3, info.Published);

        // Where each durable's grain lives: a silo in a cluster, nowhere for an in-process broker.
        Assert.All(info.Durables, d => Assert.Equal(info.Host is not null, d.Host is not null));
    }

    // ---- Plain subscriptions ----

    [Fact]
    public async Task PlainSubscription_AckAndNakChangeNothing_AndDeliveryCountIs1()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("durable.plain");
        var completedAtOnce = new ConcurrentQueue<bool>();
        var deliveries = new Deliveries(async (evt, ct) =>
        {
            var settling = new[] { evt.NakAsync(TimeSpan.Zero, ct), evt.AckAsync(ct), evt.NakAsync(cancellationToken: ct) };
            completedAtOnce.Enqueue(settling.All(t => t.IsCompletedSuccessfully));
            await Task.WhenAll(settling);
        });
        await using var sub = await broker.SubscribeAsync(topic, deliveries.Handler, new SubscribeOptions { Queue = Queue, AutoAck = false });
        await Publish(broker, topic, "1", "2");
        await deliveries.WaitForCount(2, Deadline);

        // A nak that redelivered would have queued "1" again ahead of "3".
        await Publish(broker, topic, "3");
        await deliveries.WaitForCount(3, Deadline);
        await WaitFor(() => completedAtOnce.Count == 3, "the third handler call to finish");
        Assert.Equal(["1", "2", "3"], deliveries.Events.Select(e => e.Message.BodyAsString()));
        Assert.Equal([1, 1, 1], deliveries.DeliveryCounts);
        Assert.All(completedAtOnce, Assert.True);
        Assert.Empty((await Admin(broker).GetTopicAsync(topic))!.Durables);
    }

    /// <summary>Records each delivery with when it arrived, then lets the test react to it (ack, nak, throw).</summary>
    private sealed class Deliveries(Func<IEvent, CancellationToken, Task>? react = null)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly ConcurrentQueue<(IEvent Event, TimeSpan At)> _seen = new();

        public MessageHandler Handler => (evt, ct) =>
        {
            _seen.Enqueue((evt, _clock.Elapsed));
            return react?.Invoke(evt, ct) ?? Task.CompletedTask;
        };

        public int Count => _seen.Count;

        public IReadOnlyList<IEvent> Events => _seen.Select(s => s.Event).ToList();

        public IReadOnlyList<int> DeliveryCounts => _seen.Select(s => s.Event.DeliveryCount).ToList();

        /// <summary>Time from delivery <paramref name="from"/> to delivery <paramref name="to"/> (0-based).</summary>
        public TimeSpan Between(int from, int to) => _seen.ElementAt(to).At - _seen.ElementAt(from).At;

        public Task WaitForCount(int count, TimeSpan timeout) =>
            Eventually.WaitUntil(() => Count >= count, $"{count} deliveries (have {Count})", timeout);
    }
}
