using OrleansBroker.Server.Grains;

namespace OrleansBroker.Tests.Unit;

/// <summary>A topic takes each numbered batch of a publisher once, and never one older than it took.</summary>
public sealed class PublisherWindowTests
{
    [Fact]
    public void TakesACopyOrAnOlderBatchAsAlreadyTaken()
    {
        var window = new PublisherWindow();
        Assert.False(window.IsCopy("p", 1));
        window.Took("p", 1, now: 1);
        Assert.True(window.IsCopy("p", 1));
        Assert.False(window.IsCopy("p", 3));
        window.Took("p", 3, now: 2);
        Assert.True(window.IsCopy("p", 2));
        Assert.False(window.IsCopy("q", 1));
    }

    [Fact]
    public void ForgetsTheLeastRecentPublisher_WhenFull()
    {
        var window = new PublisherWindow();
        for (var i = 0; i < PublisherWindow.MaxPublishers; i++)
        {
            window.Took($"p{i}", 1, now: i);
        }

        window.Took("p0", 2, now: PublisherWindow.MaxPublishers);
        window.Took("new", 1, now: PublisherWindow.MaxPublishers + 1);

        Assert.Equal(PublisherWindow.MaxPublishers, window.Count);
        Assert.True(window.IsCopy("p0", 2));
        Assert.False(window.IsCopy("p1", 1));
        Assert.True(window.IsCopy("new", 1));
    }

    [Fact]
    public void HandsItsWindowOver()
    {
        var window = new PublisherWindow();
        window.Took("p", 4, now: 1);
        var next = new PublisherWindow();
        next.Restore(window.Snapshot(), now: 0);
        Assert.True(next.IsCopy("p", 4));
        Assert.False(next.IsCopy("p", 5));
    }

    [Theory]
    [InlineData(null, 1)]
    [InlineData("", 1)]
    [InlineData("p", 0)]
    public void RefusesANumberedPublishThatNoClientOfOursSends(string? publisher, long sequence) =>
        Assert.ThrowsAny<ArgumentException>(() => PublisherWindow.Validate(publisher!, sequence));

    [Fact]
    public void RefusesALongPublisherId() =>
        Assert.Throws<ArgumentException>(() => PublisherWindow.Validate(new string('p', PublisherWindow.MaxPublisherIdLength + 1), 1));
}
