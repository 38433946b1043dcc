using System.Diagnostics;
using OrleansBroker.Diagnostics;

namespace OrleansBroker.Tests.Telemetry;

/// <summary>The W3C trace context in a message's header, without a broker.</summary>
public sealed class TraceContextTests
{
    [Fact]
    public void Inject_AddsTraceparentAndTracestate_SharesTheBody_AndCountsWhatItAdded()
    {
        using var activity = W3CActivity();
        activity.TraceStateString = "vendor=state";
        var original = new Message(new byte[] { 1, 2, 3 }, new Dictionary<string, string> { ["k"] = "v" });
        var size = original.SizeInBytes();

        var carried = TraceContext.Inject(original, activity, ref size);

        Assert.Equal(activity.Id, carried.Header["traceparent"]);
        Assert.Equal("vendor=state", carried.Header["tracestate"]);
        Assert.Equal("v", carried.Header["k"]);
        Assert.Single(original.Header);
        Assert.True(carried.Body.Span.Overlaps(original.Body.Span), "the body is shared, not copied");
        Assert.Equal(carried.SizeInBytes(), size);
        Assert.InRange(size - original.SizeInBytes(), 1, TraceContext.MaxAddedBytes);
    }

    [Fact]
    public void Inject_CallersTraceparent_ReturnsTheSameMessage()
    {
        using var activity = W3CActivity();
        var original = Message.FromString("x", new Dictionary<string, string> { ["traceparent"] = "00-caller" });
        var size = original.SizeInBytes();

        Assert.Same(original, TraceContext.Inject(original, activity, ref size));
        Assert.Equal(original.SizeInBytes(), size);
    }

    [Fact]
    public void Inject_KeepsCallersTracestate_AndDropsAnOversizedOne()
    {
        using var activity = W3CActivity();
        activity.TraceStateString = new string('s', TraceContext.MaxTraceStateBytes + 1);
        var bare = Message.FromString("x");
        long size = 0;
        Assert.False(TraceContext.Inject(bare, activity, ref size).Header.ContainsKey("tracestate"));

        activity.TraceStateString = "ours=1";
        var withState = Message.FromString("x", new Dictionary<string, string> { ["tracestate"] = "theirs=1" });
        var carried = TraceContext.Inject(withState, activity, ref size);
        Assert.Equal("theirs=1", carried.Header["tracestate"]);
        Assert.Equal(activity.Id, carried.Header["traceparent"]);
    }

    [Fact]
    public void Inject_HierarchicalActivity_CarriesNothing()
    {
        using var activity = new Activity("hierarchical").SetIdFormat(ActivityIdFormat.Hierarchical).Start();
        var original = Message.FromString("x");
        long size = 0;

        Assert.Same(original, TraceContext.Inject(original, activity, ref size));
    }

    [Fact]
    public void Extract_ReadsWhatInjectWrote()
    {
        using var activity = W3CActivity();
        activity.TraceStateString = "vendor=state";
        long size = 0;

        var context = TraceContext.Extract(TraceContext.Inject(Message.FromString("x"), activity, ref size));

        Assert.Equal(activity.TraceId, context.TraceId);
        Assert.Equal(activity.SpanId, context.SpanId);
        Assert.Equal("vendor=state", context.TraceState);
        Assert.True(context.IsRemote);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not a traceparent")]
    [InlineData("00-00000000000000000000000000000000-0000000000000000-01")]
    public void Extract_MissingOrInvalid_IsDefault(string? traceparent)
    {
        var header = traceparent is null ? null : new Dictionary<string, string> { ["traceparent"] = traceparent };
        Assert.Equal(default, TraceContext.Extract(Message.FromString("x", header)));
    }

    private static Activity W3CActivity() => new Activity("test").SetIdFormat(ActivityIdFormat.W3C).Start();
}
