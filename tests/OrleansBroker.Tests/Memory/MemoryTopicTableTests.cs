using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Memory;

/// <summary>Publishing to ever new topics (one per entity) must not grow a MemoryBroker forever.</summary>
public sealed class MemoryTopicTableTests
{
    [Fact]
    public async Task TopicsUnusedForTheIdleTimeout_WithNoSubscribers_AreForgotten_AndSubscribedOnesStay()
    {
        var time = new FakeTimeProvider();
        await using var broker = new MemoryBroker(null, null, time);
        await broker.ConnectAsync();
        var kept = Topics.Unique("kept");
        var collector = new Collector();
        await using var subscriber = await broker.SubscribeAsync(kept, collector.Handler);
        for (var i = 0; i < 5_000; i++)
        {
            await broker.PublishAsync($"orders.{i}", Message.FromString("x"));
        }

        time.Advance(MemoryBroker.IdleTopicTimeout);
        for (var i = 5_000; i < 10_000; i++)
        {
            await broker.PublishAsync($"orders.{i}", Message.FromString("x"));
        }

        var topics = await broker.ListTopicsAsync();
        Assert.True(topics.Count <= 5_002, $"{topics.Count} topics kept; the first 5,000 had been idle for the timeout");
        Assert.Null(await broker.GetTopicAsync("orders.0"));
        Assert.NotNull(await broker.GetTopicAsync("orders.9999"));
        Assert.Equal(1, (await broker.GetTopicAsync(kept))!.Subscribers);

        await broker.PublishAsync(kept, Message.FromString("still delivered"));
        await collector.WaitForCount(1);
    }
}
