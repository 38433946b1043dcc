using System.Collections.Concurrent;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Conformance;

/// <summary>
/// "Rules every broker keeps", written once and run against every broker. Each test builds its
/// own broker and uses topics of its own.
/// </summary>
public abstract class BrokerConformanceTests
{
    /// <summary>A new broker, not yet connected.</summary>
    protected abstract IBroker CreateBroker(BrokerOptions? options = null);

    protected async Task<IBroker> ConnectedBroker(BrokerOptions? options = null)
    {
        var broker = CreateBroker(options);
        await broker.ConnectAsync();
        return broker;
    }

    private static IBrokerAdmin Admin(IBroker broker) => (IBrokerAdmin)broker;

    public static TheoryData<string> InvalidTopics() =>
    [
        "", " ", "a b", "a..b", ".a", "a.", ".", "a.*", "orders.>", "*", ">", "$sys", "$sys.topics",
        "tab\there", "new\nline", "ünicode", "a,b", "a#b", new string('a', 256),
    ];

    public static TheoryData<string> ValidTopics() =>
    [
        "a", "orders.created", "go.micro.topic.foo", "A-b_c:d/e", "x.y.z.1.2.3", new string('a', 255),
    ];

    public static TheoryData<string> InvalidQueues() => ["", "a b", "a/b", "q*", "q>", "é", new string('q', 256)];

    [Theory]
    [MemberData(nameof(InvalidTopics))]
    public async Task Publish_InvalidTopic_ThrowsInvalidTopic(string topic)
    {
        await using var broker = await ConnectedBroker();
        var error = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(topic, Message.FromString("x")));
        Assert.Equal(BrokerErrorCode.InvalidTopic, error.Code);
    }

    [Theory]
    [MemberData(nameof(InvalidTopics))]
    public async Task Subscribe_InvalidTopic_ThrowsInvalidTopic(string topic)
    {
        await using var broker = await ConnectedBroker();
        var error = await Assert.ThrowsAsync<BrokerException>(() => broker.SubscribeAsync(topic, new Collector().Handler));
        Assert.Equal(BrokerErrorCode.InvalidTopic, error.Code);
    }

    [Theory]
    [MemberData(nameof(ValidTopics))]
    public async Task ValidTopic_IsDelivered(string topic)
    {
        await using var broker = await ConnectedBroker();
        var collector = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, collector.Handler);
        await broker.PublishAsync(topic, Message.FromString("ok"));
        await collector.WaitForCount(1);
        Assert.Equal(topic, collector.Events[0].Topic);
    }

    [Theory]
    [MemberData(nameof(InvalidQueues))]
    public async Task Subscribe_InvalidQueue_ThrowsInvalidQueue(string queue)
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique();
        var error = await Assert.ThrowsAsync<BrokerException>(
            () => broker.SubscribeAsync(topic, new Collector().Handler, new SubscribeOptions { Queue = queue }));
        Assert.Equal(BrokerErrorCode.InvalidQueue, error.Code);
        Assert.Null(await Admin(broker).GetTopicAsync(topic));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a:b")]
    [InlineData("line\nbreak")]
    [InlineData("nul\0")]
    public async Task Publish_InvalidHeaderKey_ThrowsInvalidHeader(string key)
    {
        await using var broker = await ConnectedBroker();
        var message = Message.FromString("x", new Dictionary<string, string> { [key] = "v" });
        var error = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(Topics.Unique(), message));
        Assert.Equal(BrokerErrorCode.InvalidHeader, error.Code);
    }

    [Fact]
    public async Task Publish_BodyPlusHeaderOverMax_ThrowsMessageTooLarge()
    {
        await using var broker = await ConnectedBroker(new BrokerOptions { MaxMessageBytes = 1024 });
        var topic = Topics.Unique();
        var collector = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, collector.Handler);
        var header = new Dictionary<string, string> { ["k"] = "v" };

        await broker.PublishAsync(topic, new Message(new byte[1022], header)); // exactly 1024
        var error = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(topic, new Message(new byte[1023], header)));
        Assert.Equal(BrokerErrorCode.MessageTooLarge, error.Code);
        var bodyOnly = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(topic, new Message(new byte[1025])));
        Assert.Equal(BrokerErrorCode.MessageTooLarge, bodyOnly.Code);

        await collector.WaitForCount(1);
        Assert.Equal(1022, collector.Events[0].Message.Body.Length);
    }

    [Fact]
    public async Task NotConnected_PublishAndSubscribe_ThrowNotConnected()
    {
        await using var broker = CreateBroker();
        Assert.False(broker.IsConnected);
        Assert.Equal("", broker.Address);
        var publish = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(Topics.Unique(), Message.FromString("x")));
        var subscribe = await Assert.ThrowsAsync<BrokerException>(() => broker.SubscribeAsync(Topics.Unique(), new Collector().Handler));
        Assert.Equal(BrokerErrorCode.NotConnected, publish.Code);
        Assert.Equal(BrokerErrorCode.NotConnected, subscribe.Code);
    }

    [Fact]
    public async Task AfterDisconnect_PublishThrowsNotConnected_AndConnectIsIdempotent()
    {
        await using var broker = CreateBroker();
        await broker.ConnectAsync();
        await broker.ConnectAsync();
        Assert.True(broker.IsConnected);
        Assert.NotEqual("", broker.Address);
        await broker.DisconnectAsync();
        await broker.DisconnectAsync();
        Assert.False(broker.IsConnected);
        var error = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(Topics.Unique(), Message.FromString("x")));
        Assert.Equal(BrokerErrorCode.NotConnected, error.Code);

        await broker.ConnectAsync();
        var topic = Topics.Unique();
        var collector = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, collector.Handler);
        await broker.PublishAsync(topic, Message.FromString("again"));
        await collector.WaitForCount(1);
    }

    [Fact]
    public async Task NullArguments_ThrowArgumentNull()
    {
        await using var broker = await ConnectedBroker();
        await Assert.ThrowsAsync<ArgumentNullException>(() => broker.PublishAsync(null!, Message.FromString("x")));
        await Assert.ThrowsAsync<ArgumentNullException>(() => broker.PublishAsync("t", null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => broker.SubscribeAsync(null!, new Collector().Handler));
        await Assert.ThrowsAsync<ArgumentNullException>(() => broker.SubscribeAsync("t", null!));
    }

    [Fact]
    public async Task RejectedCalls_ChangeNothing_AndLoseNothingAccepted()
    {
        await using var broker = await ConnectedBroker(new BrokerOptions { MaxMessageBytes = 100 });
        var topic = Topics.Unique();
        var collector = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, collector.Handler);

        await broker.PublishAsync(topic, Message.FromString("1"));
        await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(topic, new Message(new byte[101])));
        await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(topic,
            Message.FromString("bad", new Dictionary<string, string> { ["a:b"] = "c" })));
        await Assert.ThrowsAsync<BrokerException>(() => broker.SubscribeAsync(topic, collector.Handler, new SubscribeOptions { Queue = "bad queue" }));
        await broker.PublishAsync(topic, Message.FromString("2"));

        await collector.WaitForCount(2);
        await Eventually.WaitUntil(async () => (await Admin(broker).GetTopicAsync(topic))?.Delivered == 2, "two deliveries counted");
        var info = await Admin(broker).GetTopicAsync(topic);
        Assert.Equal(2, info!.Published);
        Assert.Equal(1, info.Subscribers);
        Assert.Empty(info.QueueGroups);
        Assert.Equal(["1", "2"], collector.Bodies);
    }

    [Fact]
    public async Task Publish_WithNoSubscribers_Succeeds()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique();
        await broker.PublishAsync(topic, Message.FromString("nobody listens"));
        var info = await Admin(broker).GetTopicAsync(topic);
        Assert.NotNull(info);
        Assert.Equal(1, info.Published);
        Assert.Equal(0, info.Delivered);
        Assert.Equal(0, info.Subscribers);
    }

    [Fact]
    public async Task Message_HeaderAndBody_ArriveIntact()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique();
        var collector = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, collector.Handler);
        var header = new Dictionary<string, string> { ["foo"] = "bar", ["Content-Type"] = "application/octet-stream" };
        var body = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        await broker.PublishAsync(topic, new Message(body, header));
        header["foo"] = "changed after publish";

        await collector.WaitForCount(1);
        var received = collector.Events[0].Message;
        Assert.Equal(body, received.Body.ToArray());
        Assert.Equal("bar", received.Header["foo"]);
        Assert.Equal("application/octet-stream", received.Header["Content-Type"]);
        Assert.Equal(2, received.Header.Count);
        Assert.Null(collector.Events[0].Error);
        await collector.Events[0].AckAsync();
    }

    [Fact]
    public async Task Broadcast_EverySubscriberGetsEveryMessageOnce()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique();
        var collectors = Enumerable.Range(0, 3).Select(_ => new Collector()).ToList();
        foreach (var c in collectors)
        {
            await broker.SubscribeAsync(topic, c.Handler);
        }

        for (var i = 0; i < 100; i++)
        {
            await broker.PublishAsync(topic, Message.FromString(i.ToString()));
        }

        foreach (var c in collectors)
        {
            await c.WaitForCount(100);
        }

        await Eventually.WaitUntil(async () => (await Admin(broker).GetTopicAsync(topic))?.Delivered == 300, "300 deliveries counted");
        foreach (var c in collectors)
        {
            Assert.Equal(Enumerable.Range(0, 100).Select(i => i.ToString()), c.Bodies);
        }
    }

    [Fact]
    public async Task QueueGroup_EachMessageToExactlyOneMember_BesideBroadcast()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique();
        var members = Enumerable.Range(0, 3).Select(_ => new Collector()).ToList();
        foreach (var m in members)
        {
            await broker.SubscribeAsync(topic, m.Handler, new SubscribeOptions { Queue = "workers" });
        }

        var other = new Collector();
        await broker.SubscribeAsync(topic, other.Handler, new SubscribeOptions { Queue = "auditors" });
        var broadcast = new Collector();
        await broker.SubscribeAsync(topic, broadcast.Handler);

        const int count = 300;
        for (var i = 0; i < count; i++)
        {
            await broker.PublishAsync(topic, Message.FromString(i.ToString()));
        }

        await broadcast.WaitForCount(count);
        await other.WaitForCount(count);
        await Eventually.WaitUntil(() => members.Sum(m => m.Count) >= count, "the workers group to get every message");

        var all = members.SelectMany(m => m.Bodies).ToList();
        Assert.Equal(count, all.Count);
        Assert.Equal(count, all.Distinct().Count());
        Assert.All(members, m => Assert.True(m.Count > 0, "every member takes a share"));

        var info = await Admin(broker).GetTopicAsync(topic);
        Assert.Equal(5, info!.Subscribers);
        Assert.Equal(3, info.QueueGroups["workers"]);
        Assert.Equal(1, info.QueueGroups["auditors"]);
        Assert.Equal(count, info.Published);
        Assert.Equal(3 * count, info.Delivered);
    }

    [Fact]
    public async Task OnePublisher_OrderIsKept_EvenWithoutAwaitingEachPublish()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique();
        var collector = new Collector();
        var member = new Collector();
        await using var sub = await broker.SubscribeAsync(topic, collector.Handler);
        await using var queued = await broker.SubscribeAsync(topic, member.Handler, new SubscribeOptions { Queue = "solo" });

        const int count = 5000;
        var publishes = new Task[count];
        for (var i = 0; i < count; i++)
        {
            publishes[i] = broker.PublishAsync(topic, Message.FromString(i.ToString()));
        }

        await Task.WhenAll(publishes);
        await collector.WaitForCount(count);
        await member.WaitForCount(count);
        var expected = Enumerable.Range(0, count).Select(i => i.ToString()).ToList();
        Assert.Equal(expected, collector.Bodies);
        Assert.Equal(expected, member.Bodies);
    }

    [Fact]
    public async Task FailingHandler_DoesNotStopOthers_AndErrorHandlerSeesTheEvent()
    {
        var failures = new ConcurrentQueue<IEvent>();
        var options = new BrokerOptions
        {
            ErrorHandler = (evt, _) =>
            {
                failures.Enqueue(evt);
                return Task.CompletedTask;
            },
        };
        await using var broker = await ConnectedBroker(options);
        var topic = Topics.Unique();
        var calls = 0;
        await broker.SubscribeAsync(topic, (_, _) =>
        {
            Interlocked.Increment(ref calls);
            throw new InvalidOperationException("handler failed");
        });
        var healthy = new Collector();
        await broker.SubscribeAsync(topic, healthy.Handler);

        for (var i = 0; i < 10; i++)
        {
            await broker.PublishAsync(topic, Message.FromString(i.ToString()));
        }

        await healthy.WaitForCount(10);
        await Eventually.WaitUntil(() => failures.Count == 10, "ten failures reported");
        Assert.Equal(10, Volatile.Read(ref calls));
        Assert.All(failures, f =>
        {
            Assert.IsType<InvalidOperationException>(f.Error);
            Assert.Equal(topic, f.Topic);
        });
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i.ToString()), failures.Select(f => f.Message.BodyAsString()));
    }

    [Fact]
    public async Task FailingErrorHandler_DoesNotStopDelivery()
    {
        var options = new BrokerOptions { ErrorHandler = (_, _) => throw new InvalidOperationException("error handler failed") };
        await using var broker = await ConnectedBroker(options);
        var topic = Topics.Unique();
        var calls = 0;
        await broker.SubscribeAsync(topic, (_, _) =>
        {
            Interlocked.Increment(ref calls);
            return Task.FromException(new InvalidOperationException("handler failed"));
        });

        for (var i = 0; i < 5; i++)
        {
            await broker.PublishAsync(topic, Message.FromString(i.ToString()));
        }

        await Eventually.WaitUntil(() => Volatile.Read(ref calls) == 5, "the handler to see all five");
    }

    [Fact]
    public async Task Unsubscribe_HandlerNotCalledAgain_AndTopicInfoDropsIt()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique();
        var leaving = new Collector();
        var staying = new Collector();
        var leavingSub = await broker.SubscribeAsync(topic, leaving.Handler);
        var leavingMember = await broker.SubscribeAsync(topic, leaving.Handler, new SubscribeOptions { Queue = "q" });
        await using var stayingSub = await broker.SubscribeAsync(topic, staying.Handler);

        await broker.PublishAsync(topic, Message.FromString("before"));
        await leaving.WaitForCount(2);
        await leavingSub.UnsubscribeAsync();
        await leavingMember.DisposeAsync();
        await leavingSub.UnsubscribeAsync(); // idempotent

        var info = await Admin(broker).GetTopicAsync(topic);
        Assert.Equal(1, info!.Subscribers);
        Assert.Empty(info.QueueGroups);

        for (var i = 0; i < 50; i++)
        {
            await broker.PublishAsync(topic, Message.FromString("after"));
        }

        await staying.WaitForCount(51);
        Assert.Equal(2, leaving.Count);
    }

    [Fact]
    public async Task Disconnect_EndsEverySubscription()
    {
        var topic = Topics.Unique();
        var collector = new Collector();
        var broker = await ConnectedBroker();
        await broker.SubscribeAsync(topic, collector.Handler);
        await broker.SubscribeAsync(topic, collector.Handler, new SubscribeOptions { Queue = "q" });

        await using var observer = await ConnectedBroker();
        var watcher = new Collector();
        await using var watch = await observer.SubscribeAsync(topic, watcher.Handler);

        await broker.DisconnectAsync();
        var info = await Admin(observer).GetTopicAsync(topic);
        Assert.Equal(1, info!.Subscribers);

        for (var i = 0; i < 20; i++)
        {
            await observer.PublishAsync(topic, Message.FromString("after"));
        }

        await watcher.WaitForCount(20);
        Assert.Equal(0, collector.Count);
    }

    [Fact]
    public async Task Disconnect_UnderLoad_WaitsForHandlersInProgress_AndNoneStartsAfterItReturns()
    {
        var topic = Topics.Unique();
        var probe = new BusyHandlerProbe();
        var broker = await ConnectedBroker();
        await broker.SubscribeAsync(topic, probe.Handler);
        await broker.SubscribeAsync(topic, probe.Handler, new SubscribeOptions { Queue = "q" });
        for (var i = 0; i < 1_000; i += 100)
        {
            await Task.WhenAll(Enumerable.Range(i, 100).Select(n => broker.PublishAsync(topic, Message.FromString(n.ToString()))));
        }

        await Eventually.WaitUntil(() => probe.Started >= 4, "the handlers to be busy");
        await broker.DisconnectAsync();
        var runningAtReturn = probe.MarkReturned();

        // Traffic through the same broker afterwards: the old subscriptions' backlogs must stay unhandled.
        await broker.ConnectAsync();
        var canary = new Collector();
        await using var watch = await broker.SubscribeAsync(topic, canary.Handler);
        for (var i = 0; i < 100; i++)
        {
            await broker.PublishAsync(topic, Message.FromString("after"));
        }

        await canary.WaitForCount(100);
        Assert.Equal(0, runningAtReturn);
        Assert.Equal(0, probe.StartedAfterReturn);
        Assert.Equal(1, (await Admin(broker).GetTopicAsync(topic))!.Subscribers);
        await broker.DisposeAsync();
    }

    [Fact]
    public async Task Disconnect_WhileAHandlerRuns_ThatThenUnsubscribesItself_DoesNotDeadlock()
    {
        var broker = await ConnectedBroker();
        var topic = Topics.Unique();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ISubscriber? self = null;
        self = await broker.SubscribeAsync(topic, async (_, _) =>
        {
            entered.TrySetResult();
            await release.Task;
            await self!.UnsubscribeAsync();
        });
        await broker.PublishAsync(topic, Message.FromString("x"));
        await entered.Task.WaitAsync(Eventually.DefaultTimeout);

        // The disconnect waits for the running handler; the handler's own unsubscribe must not wait for itself.
        var disconnecting = broker.DisconnectAsync();
        release.SetResult();
        await disconnecting.WaitAsync(Eventually.DefaultTimeout);
        Assert.False(broker.IsConnected);
    }

    [Fact]
    public async Task Handler_MayPublishAndSubscribe_WithoutDeadlock()
    {
        await using var broker = await ConnectedBroker();
        var request = Topics.Unique("request");
        var reply = Topics.Unique("reply");
        var replies = new Collector();
        var lateSubscriptions = new ConcurrentQueue<ISubscriber>();
        await using var replySub = await broker.SubscribeAsync(reply, replies.Handler);
        await using var requestSub = await broker.SubscribeAsync(request, async (evt, ct) =>
        {
            lateSubscriptions.Enqueue(await broker.SubscribeAsync(Topics.Unique("late"), new Collector().Handler, cancellationToken: ct));
            await broker.PublishAsync(reply, Message.FromString("re: " + evt.Message.BodyAsString()), ct);
        });

        for (var i = 0; i < 5; i++)
        {
            await broker.PublishAsync(request, Message.FromString(i.ToString()));
        }

        await replies.WaitForCount(5);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => "re: " + i), replies.Bodies);
        Assert.Equal(5, lateSubscriptions.Count);
        foreach (var s in lateSubscriptions)
        {
            await s.UnsubscribeAsync();
        }
    }

    [Fact]
    public async Task Handler_MayUnsubscribeItself_AndIsNotCalledAgain()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique();
        var canary = new Collector();
        await using var canarySub = await broker.SubscribeAsync(topic, canary.Handler);
        var calls = 0;
        ISubscriber? self = null;
        var release = new TaskCompletionSource();
        self = await broker.SubscribeAsync(topic, async (_, _) =>
        {
            Interlocked.Increment(ref calls);
            await release.Task;
            await self!.UnsubscribeAsync();
        });

        // Four more wait behind the first while it runs; it unsubscribes before they begin.
        for (var i = 1; i <= 5; i++)
        {
            await broker.PublishAsync(topic, Message.FromString(i.ToString()));
        }

        await canary.WaitForCount(5);
        await Eventually.WaitUntil(() => Volatile.Read(ref calls) == 1, "the first call");
        release.SetResult();
        await Eventually.WaitUntil(async () => (await Admin(broker).GetTopicAsync(topic))!.Subscribers == 1, "the handler's subscription to end");

        await broker.PublishAsync(topic, Message.FromString("6"));
        await canary.WaitForCount(6);
        Assert.Equal(1, Volatile.Read(ref calls));
    }

    [Fact]
    public async Task Unsubscribe_WaitsForTheCallInProgress_AndNoCallStartsAfterItReturns()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique();
        var canary = new Collector();
        await using var canarySub = await broker.SubscribeAsync(topic, canary.Handler);
        var probe = new BusyHandlerProbe();
        var subscriber = await broker.SubscribeAsync(topic, probe.Handler);

        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < 2_000; i++)
            {
                await broker.PublishAsync(topic, Message.FromString(i.ToString()));
            }
        });
        await Eventually.WaitUntil(() => probe.Started >= 3, "the handler to be busy");
        await subscriber.UnsubscribeAsync();
        var runningAtReturn = probe.MarkReturned();
        await publishing;
        await canary.WaitForCount(2_000);

        Assert.Equal(0, runningAtReturn);
        Assert.Equal(0, probe.StartedAfterReturn);
    }

    [Fact]
    public async Task QueueGroup_PassesOverAFullMember_AndDropsNothingWhileAnotherHasRoom()
    {
        const int count = 2_000;
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("fullmember");
        var release = new TaskCompletionSource();
        var stuck = new ConcurrentQueue<string>();
        var free = new ConcurrentQueue<string>();
        await using var stuckMember = await broker.SubscribeAsync(topic, async (evt, _) =>
        {
            stuck.Enqueue(evt.Message.BodyAsString());
            await release.Task;
        }, new SubscribeOptions { Queue = "workers", MaxPending = 10 });
        await using var freeMember = await broker.SubscribeAsync(topic, (evt, _) =>
        {
            free.Enqueue(evt.Message.BodyAsString());
            return Task.CompletedTask;
        }, new SubscribeOptions { Queue = "workers" });

        for (var i = 0; i < count; i += 100)
        {
            await Task.WhenAll(Enumerable.Range(i, 100).Select(n => broker.PublishAsync(topic, Message.FromString(n.ToString()))));
        }

        // The stuck member holds what it was given before it filled; the other takes the rest.
        await Eventually.WaitUntil(async () => (await Admin(broker).GetTopicAsync(topic))!.Delivered == count, "every message handed to a member");
        release.SetResult();
        await Eventually.WaitUntil(() => stuck.Count + free.Count >= count, $"every message handled (have {stuck.Count + free.Count})");
        var info = await Admin(broker).GetTopicAsync(topic);
        Assert.Equal(0, info!.Dropped);
        Assert.Equal(count, stuck.Concat(free).Distinct().Count());
        Assert.Equal(count, stuck.Count + free.Count);
        Assert.True(free.Count > count / 2, $"the free member handled {free.Count} of {count}");
    }

    [Fact]
    public async Task QueueMember_LeavingUnderLoad_HandsItsBacklogToTheRestOfItsGroup()
    {
        const int count = 20_000;
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("scaledown");
        var fast = new ConcurrentQueue<string>();
        var slow = new ConcurrentQueue<string>();
        await using var stayer = await broker.SubscribeAsync(topic, (evt, _) =>
        {
            fast.Enqueue(evt.Message.BodyAsString());
            return Task.CompletedTask;
        }, new SubscribeOptions { Queue = "workers" });
        var leaver = await broker.SubscribeAsync(topic, async (evt, ct) =>
        {
            slow.Enqueue(evt.Message.BodyAsString());
            await Task.Delay(1, ct).ContinueWith(_ => { }, CancellationToken.None);
        }, new SubscribeOptions { Queue = "workers" });

        var publishing = Task.Run(async () =>
        {
            var window = new List<Task>();
            for (var i = 0; i < count; i++)
            {
                window.Add(broker.PublishAsync(topic, Message.FromString(i.ToString())));
                if (window.Count == 256)
                {
                    await Task.WhenAll(window);
                    window.Clear();
                }
            }

            await Task.WhenAll(window);
        });
        await Eventually.WaitUntil(() => slow.Count >= 10, "the slow member to be busy");
        await leaver.UnsubscribeAsync();
        var slowAtLeave = slow.Count;
        await publishing;

        await Eventually.WaitUntil(() => fast.Count + slow.Count >= count, $"every message handled (have {fast.Count + slow.Count})", TimeSpan.FromSeconds(60));
        var info = await Admin(broker).GetTopicAsync(topic);
        var handled = fast.Concat(slow).ToList();
        Assert.Equal(count, handled.Distinct().Count());
        Assert.Equal(count, handled.Count);
        Assert.Equal(0, info!.Dropped);
        Assert.Equal(slowAtLeave, slow.Count);
    }

    [Fact]
    public async Task CompletedPublish_IsDeliveredToSubscribersLiveAtThatMoment()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique();
        var early = new Collector();
        await using var earlySub = await broker.SubscribeAsync(topic, early.Handler);
        await broker.PublishAsync(topic, Message.FromString("first"));
        var late = new Collector();
        await using var lateSub = await broker.SubscribeAsync(topic, late.Handler);
        await broker.PublishAsync(topic, Message.FromString("second"));

        await early.WaitForCount(2);
        await late.WaitForCount(1);
        Assert.Equal(["first", "second"], early.Bodies);
        Assert.Equal(["second"], late.Bodies);
    }

    [Fact]
    public async Task Admin_ListsTopicsWithCounts_AndUnknownTopicIsNull()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique("admin");
        var collector = new Collector();
        await using var a = await broker.SubscribeAsync(topic, collector.Handler);
        await using var b = await broker.SubscribeAsync(topic, collector.Handler, new SubscribeOptions { Queue = "g" });
        for (var i = 0; i < 4; i++)
        {
            await broker.PublishAsync(topic, Message.FromString("x"));
        }

        await collector.WaitForCount(8);
        var listed = (await Admin(broker).ListTopicsAsync()).Single(t => t.Topic == topic);
        Assert.Equal(2, listed.Subscribers);
        Assert.Equal(1, listed.QueueGroups["g"]);
        Assert.Equal(4, listed.Published);
        Assert.Equal(8, listed.Delivered);
        Assert.Equal(0, listed.Dropped);
        Assert.Null(await Admin(broker).GetTopicAsync(Topics.Unique("never.used")));
        var invalid = await Assert.ThrowsAsync<BrokerException>(() => Admin(broker).GetTopicAsync("bad topic"));
        Assert.Equal(BrokerErrorCode.InvalidTopic, invalid.Code);
    }

    [Fact]
    public async Task SlowSubscriber_DropsPastMaxPending_CountsEveryDrop_AndDoesNotHoldBackOthers()
    {
        await using var broker = await ConnectedBroker();
        var topic = Topics.Unique();
        var release = new TaskCompletionSource();
        var slowCount = 0;
        await using var slow = await broker.SubscribeAsync(topic, async (_, _) =>
        {
            await release.Task;
            Interlocked.Increment(ref slowCount);
        }, new SubscribeOptions { MaxPending = 10 });
        var fast = new Collector();
        await using var fastSub = await broker.SubscribeAsync(topic, fast.Handler);

        const int count = 2000;
        for (var i = 0; i < count; i++)
        {
            await broker.PublishAsync(topic, Message.FromString(i.ToString()));
        }

        await fast.WaitForCount(count);
        Assert.Equal(0, Volatile.Read(ref slowCount));
        release.SetResult();

        await Eventually.WaitUntil(async () =>
        {
            var info = await Admin(broker).GetTopicAsync(topic);
            return info!.Dropped > 0 && info.Dropped + Volatile.Read(ref slowCount) == count;
        }, "every message to the slow subscriber either handled or counted as dropped");
        Assert.True(Volatile.Read(ref slowCount) >= 10);
    }
}
