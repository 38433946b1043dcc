using OrleansBroker.Subscriptions;

namespace OrleansBroker.Tests.Unit;

/// <summary>The client takes each numbered batch of a subscriber grain once, however often it is sent.</summary>
public sealed class DeliveryWindowTests
{
    [Fact]
    public void Client_TakesEachNumberOfASenderOnce()
    {
        var window = new DeliveryWindow();
        Assert.True(window.TryTake(7, 1));
        Assert.False(window.TryTake(7, 1));
        Assert.True(window.TryTake(7, 2));
        Assert.False(window.TryTake(7, 1));
        Assert.True(window.TryTake(7, 5));
    }

    [Fact]
    public void Client_ANewSender_StartsItsOwnNumbering()
    {
        var window = new DeliveryWindow();
        Assert.True(window.TryTake(1, 10));
        Assert.True(window.TryTake(2, 1));
        Assert.False(window.TryTake(1, 10));
        Assert.True(window.TryTake(1, 11));
    }

    [Fact]
    public void Client_RemembersOnlyTheRecentSenders()
    {
        var window = new DeliveryWindow();
        for (var sender = 1; sender <= DeliveryWindow.RememberedSenders + 1; sender++)
        {
            Assert.True(window.TryTake(sender, 1));
        }

        Assert.False(window.TryTake(DeliveryWindow.RememberedSenders + 1, 1));
        Assert.True(window.TryTake(1, 1));
    }
}
