using System.Diagnostics;
using System.Collections.Concurrent;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Telemetry;

/// <summary>
/// API.md's "Telemetry", written once and run against every broker: one trace from PublishAsync to
/// the handler, the messaging attributes, and counters that match what was sent and handled. Each
/// test records only its own topics (see <see cref="TelemetryRecorder"/>).
/// </summary>
public abstract class BrokerTelemetryTests
{
    private const string Sent = "messaging.client.sent.messages";
    private const string Consumed = "messaging.client.consumed.messages";
    private const string Duration = "messaging.process.duration";

    /// <summary>A new broker, not yet connected.</summary>
    protected abstract IBroker CreateBroker(BrokerOptions? options = null);

    [Fact]
    public async Task Publish_InsideAnActivity_HandlerRunsInProcessSpan_ChildOfPublishSpan_InTheCallersTrace()
    {
        using var recorder = new TelemetryRecorder();
        var topic = recorder.Topic("trace");
        await using var broker = await ConnectedBroker();
        var handled = new Handled();
        await using var sub = await broker.SubscribeAsync(topic, handled.Handler);

        Activity caller;
        using (caller = TelemetryRecorder.Caller.StartActivity("caller")!)
        {
            await broker.PublishAsync(topic, Message.FromString("traced"));
            Assert.Same(caller, Activity.Current);
        }

        var (current, received) = await handled.First();
        var publish = await recorder.WaitForSpan($"publish {topic}");
        var process = await recorder.WaitForSpan($"process {topic}");

        Assert.Equal(ActivityKind.Producer, publish.Kind);
        Assert.Equal(caller.TraceId, publish.TraceId);
        Assert.Equal(caller.SpanId, publish.ParentSpanId);
        Assert.Equal(publish.Id, received.Header["traceparent"]);

        Assert.Same(process, current);
        Assert.Equal(ActivityKind.Consumer, process.Kind);
        Assert.Equal(caller.TraceId, current!.TraceId);
        Assert.Equal(publish.SpanId, current.ParentSpanId);
        Assert.Equal(ActivityStatusCode.Unset, process.Status);
    }

    [Fact]
    public async Task DurableSubscription_HandlerRunsInProcessSpan_ChildOfPublishSpan_InTheCallersTrace()
    {
        using var recorder = new TelemetryRecorder();
        var topic = recorder.Topic("durabletrace");
        await using var broker = await ConnectedBroker();
        var handled = new Handled();
        await using var sub = await broker.SubscribeAsync(topic, handled.Handler, new SubscribeOptions { Queue = "billing", Durable = true });

        Activity caller;
        using (caller = TelemetryRecorder.Caller.StartActivity("caller")!)
        {
            await broker.PublishAsync(topic, Message.FromString("traced and kept"));
        }

        // The message went through the durable log and the durable subscription: its trace context with it.
        var (current, received) = await handled.First();
        var publish = await recorder.WaitForSpan($"publish {topic}");
        var process = await recorder.WaitForSpan($"process {topic}");
        Assert.Equal(caller.TraceId, publish.TraceId);
        Assert.Equal(publish.Id, received.Header["traceparent"]);
        Assert.Same(process, current);
        Assert.Equal(caller.TraceId, current!.TraceId);
        Assert.Equal(publish.SpanId, current.ParentSpanId);
        Assert.Equal("billing", process.GetTagItem("messaging.consumer.group.name"));
        Assert.Equal(ActivityStatusCode.Unset, process.Status);
        await Admin(broker).DeleteDurableAsync(topic, "billing");
    }

    [Fact]
    public async Task DurableSubscription_CountersMatchTheMessagesSentAndConsumed()
    {
        using var recorder = new TelemetryRecorder();
        var topic = recorder.Topic("durablecounters");
        await using var broker = await ConnectedBroker();
        var members = new[] { new Collector(), new Collector() };
        var options = new SubscribeOptions { Queue = "billing", Durable = true };
        await using var first = await broker.SubscribeAsync(topic, members[0].Handler, options);
        await using var second = await broker.SubscribeAsync(topic, members[1].Handler, options);

        const int count = 200;
        await Task.WhenAll(Enumerable.Range(0, count).Select(i => broker.PublishAsync(topic, Message.FromString(i.ToString()))));

        Assert.Equal(count, recorder.Sum(Sent, ("messaging.destination.name", topic), ("error.type", null)));
        await Eventually.WaitUntil(() => members.Sum(m => m.Count) >= count && recorder.Count(Duration) >= count,
            $"{count} handled (have {members.Sum(m => m.Count)}) and timed (have {recorder.Count(Duration)})");

        // Each handler call is consumed once, in the durable's group; none was redelivered (AckWait 30 s).
        Assert.Equal(count, members.Sum(m => m.Count));
        Assert.Equal(count, recorder.Sum(Consumed, ("messaging.consumer.group.name", "billing"), ("messaging.operation.name", "process")));
        Assert.Equal(count, recorder.Count(Duration, ("messaging.consumer.group.name", "billing")));
        await Eventually.WaitUntil(async () => (await Admin(broker).GetTopicAsync(topic))!.Durables.Single() is { Backlog: 0, Redelivered: 0 },
            "every message acked, none redelivered");
        await Admin(broker).DeleteDurableAsync(topic, "billing");
    }

    [Fact]
    public async Task CallersOwnTraceparent_IsKept_AndParentsTheHandler()
    {
        using var recorder = new TelemetryRecorder();
        var topic = recorder.Topic("own");
        await using var broker = await ConnectedBroker();
        var handled = new Handled();
        await using var sub = await broker.SubscribeAsync(topic, handled.Handler);
        var created = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        var traceparent = $"00-{created.TraceId}-{created.SpanId}-01";
        var header = new Dictionary<string, string> { ["traceparent"] = traceparent, ["tracestate"] = "vendor=kept" };

        using (TelemetryRecorder.Caller.StartActivity("unrelated"))
        {
            await broker.PublishAsync(topic, Message.FromString("own context", header));
        }

        var (current, received) = await handled.First();
        Assert.Equal(traceparent, received.Header["traceparent"]);
        Assert.Equal("vendor=kept", received.Header["tracestate"]);
        Assert.Equal(2, received.Header.Count);
        Assert.Equal(created.TraceId, current!.TraceId);
        Assert.Equal(created.SpanId, current.ParentSpanId);
        Assert.Equal("vendor=kept", current.TraceStateString);

        var publish = await recorder.WaitForSpan($"publish {topic}");
        Assert.Contains(publish.Links, link => link.Context.TraceId == created.TraceId && link.Context.SpanId == created.SpanId);
    }

    [Fact]
    public async Task NoBrokerSpan_CallersContextIsStillCarried_AndHandlerHasNoAmbientActivity()
    {
        // A topic the recorder does not sample: no broker span is started for it.
        var topic = Topics.Unique("telemetry.unsampled");
        await using var broker = await ConnectedBroker();
        var handled = new Handled();
        using var recorder = new TelemetryRecorder();

        // Subscribed inside an activity: the handler must not inherit it.
        ISubscriber sub;
        using (TelemetryRecorder.Caller.StartActivity("subscriber"))
        {
            sub = await broker.SubscribeAsync(topic, handled.Handler);
        }

        await using var _ = sub;
        Activity caller;
        using (caller = TelemetryRecorder.Caller.StartActivity("caller")!)
        {
            await broker.PublishAsync(topic, Message.FromString("carried"));
        }

        await broker.PublishAsync(topic, Message.FromString("untraced"));

        var events = await handled.WaitFor(2);
        Assert.Equal(caller.Id, events[0].Message.Header["traceparent"]);
        Assert.Null(events[0].Current);
        Assert.Empty(events[1].Message.Header);
        Assert.Null(events[1].Current);
    }

    [Fact]
    public async Task Spans_CarryTheMessagingAttributes_AndAFailedHandlerIsAnError()
    {
        using var recorder = new TelemetryRecorder();
        var topic = recorder.Topic("attributes");
        var reported = new TaskCompletionSource<Activity?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var broker = await ConnectedBroker(new BrokerOptions
        {
            ErrorHandler = (_, _) =>
            {
                reported.TrySetResult(Activity.Current);
                return Task.CompletedTask;
            },
        });
        await using var sub = await broker.SubscribeAsync(topic, (_, _) => throw new InvalidOperationException("handler failed"),
            new SubscribeOptions { Queue = "workers" });

        await broker.PublishAsync(topic, new Message(new byte[42]));

        var publish = await recorder.WaitForSpan($"publish {topic}");
        var process = await recorder.WaitForSpan($"process {topic}");
        Assert.Equal("orleansbroker", publish.GetTagItem("messaging.system"));
        Assert.Equal("send", publish.GetTagItem("messaging.operation.type"));
        Assert.Equal("publish", publish.GetTagItem("messaging.operation.name"));
        Assert.Equal(topic, publish.GetTagItem("messaging.destination.name"));
        Assert.Equal(42, publish.GetTagItem("messaging.message.body.size"));
        Assert.Null(publish.GetTagItem("messaging.consumer.group.name"));

        Assert.Equal("orleansbroker", process.GetTagItem("messaging.system"));
        Assert.Equal("process", process.GetTagItem("messaging.operation.type"));
        Assert.Equal("process", process.GetTagItem("messaging.operation.name"));
        Assert.Equal(topic, process.GetTagItem("messaging.destination.name"));
        Assert.Equal("workers", process.GetTagItem("messaging.consumer.group.name"));
        Assert.Equal(42, process.GetTagItem("messaging.message.body.size"));

        Assert.Equal(ActivityStatusCode.Error, process.Status);
        Assert.Equal(typeof(InvalidOperationException).FullName, process.GetTagItem("error.type"));
        Assert.Same(process, await reported.Task.WaitAsync(Eventually.DefaultTimeout));
        Assert.Equal(ActivityStatusCode.Unset, publish.Status);
    }

    [Fact]
    public async Task Counters_MatchTheMessagesSentAndConsumed()
    {
        using var recorder = new TelemetryRecorder();
        var topic = recorder.Topic("counters");
        await using var broker = await ConnectedBroker();
        var broadcast = new Collector();
        var members = new[] { new Collector(), new Collector() };
        await using var all = await broker.SubscribeAsync(topic, broadcast.Handler);
        await using var first = await broker.SubscribeAsync(topic, members[0].Handler, new SubscribeOptions { Queue = "workers" });
        await using var second = await broker.SubscribeAsync(topic, members[1].Handler, new SubscribeOptions { Queue = "workers" });

        // Not awaited one by one, so the cluster batches them: counted per message all the same.
        const int count = 200;
        await Task.WhenAll(Enumerable.Range(0, count).Select(i => broker.PublishAsync(topic, Message.FromString(i.ToString()))));

        Assert.Equal(count, recorder.Sum(Sent, ("messaging.destination.name", topic), ("messaging.operation.name", "publish"),
            ("messaging.system", "orleansbroker"), ("error.type", null)));
        await Eventually.WaitUntil(() => recorder.Sum(Consumed) == 2 * count && recorder.Count(Duration) == 2 * count,
            $"{2 * count} consumed (have {recorder.Sum(Consumed)}) and timed (have {recorder.Count(Duration)})");

        Assert.Equal(count, broadcast.Count);
        Assert.Equal(count, members.Sum(m => m.Count));
        Assert.Equal(count, recorder.Sum(Consumed, ("messaging.consumer.group.name", null), ("messaging.operation.name", "process")));
        Assert.Equal(count, recorder.Sum(Consumed, ("messaging.consumer.group.name", "workers"), ("messaging.operation.name", "process")));
        Assert.Equal(count, recorder.Count(Duration, ("messaging.consumer.group.name", "workers")));
        Assert.All(recorder.Measurements(Sent).Concat(recorder.Measurements(Consumed)), m => Assert.Equal("{message}", m.Unit));
        Assert.All(recorder.Measurements(Duration), m =>
        {
            Assert.Equal("s", m.Unit);
            Assert.InRange(m.Value, 0, Eventually.DefaultTimeout.TotalSeconds);
            Assert.Equal(topic, m.Tags["messaging.destination.name"]);
            Assert.Equal("orleansbroker", m.Tags["messaging.system"]);
        });
        Assert.Equal(0, recorder.Count(Consumed, ("error.type", typeof(InvalidOperationException).FullName)));
    }

    [Fact]
    public async Task FailedHandlers_AreCountedConsumed_WithTheirErrorType()
    {
        using var recorder = new TelemetryRecorder();
        var topic = recorder.Topic("failures");
        await using var broker = await ConnectedBroker(new BrokerOptions { ErrorHandler = (_, _) => Task.CompletedTask });
        await using var sub = await broker.SubscribeAsync(topic, (_, _) => throw new InvalidOperationException("handler failed"));

        for (var i = 0; i < 3; i++)
        {
            await broker.PublishAsync(topic, Message.FromString(i.ToString()));
        }

        await Eventually.WaitUntil(() => recorder.Sum(Consumed) == 3, "three consumed");
        Assert.Equal(3, recorder.Sum(Consumed, ("error.type", typeof(InvalidOperationException).FullName)));
    }

    [Fact]
    public async Task InjectedTraceContext_DoesNotCountAgainstMaxMessageBytes()
    {
        using var recorder = new TelemetryRecorder();
        var topic = recorder.Topic("size");
        const int max = 64;
        await using var broker = await ConnectedBroker(new BrokerOptions { MaxMessageBytes = max });
        var handled = new Handled();
        await using var sub = await broker.SubscribeAsync(topic, handled.Handler);
        var header = new Dictionary<string, string> { ["k"] = "v" };

        using (var caller = TelemetryRecorder.Caller.StartActivity("caller")!)
        {
            caller.TraceStateString = "vendor=state";
            await broker.PublishAsync(topic, new Message(new byte[max - 2], header)); // exactly MaxMessageBytes
            var error = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(topic, new Message(new byte[max - 1], header)));
            Assert.Equal(BrokerErrorCode.MessageTooLarge, error.Code);
        }

        var (_, received) = await handled.First();
        Assert.Equal(1, recorder.Sum(Sent));
        Assert.Equal(max - 2, received.Body.Length);
        Assert.Equal("v", received.Header["k"]);
        Assert.StartsWith("00-", received.Header["traceparent"]);
        Assert.Equal("vendor=state", received.Header["tracestate"]);
    }

    private static IBrokerAdmin Admin(IBroker broker) => (IBrokerAdmin)broker;

    private async Task<IBroker> ConnectedBroker(BrokerOptions? options = null)
    {
        var broker = CreateBroker(options);
        await broker.ConnectAsync();
        return broker;
    }

    /// <summary>What each handler call saw: Activity.Current while it ran, and the message.</summary>
    private sealed class Handled
    {
        private readonly Collector _collector = new();
        private readonly ConcurrentQueue<(Activity? Current, Message Message)> _seen = new();

        public MessageHandler Handler => (evt, ct) =>
        {
            _seen.Enqueue((Activity.Current, evt.Message));
            return _collector.Handler(evt, ct);
        };

        public async Task<(Activity? Current, Message Message)> First() => (await WaitFor(1))[0];

        public async Task<IReadOnlyList<(Activity? Current, Message Message)>> WaitFor(int count)
        {
            await _collector.WaitForCount(count);
            return _seen.ToArray();
        }
    }
}
