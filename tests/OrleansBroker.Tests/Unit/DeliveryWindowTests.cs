using OrleansBroker.Subscriptions;

namespace OrleansBroker.Tests.Unit;

/// <summary>
/// The client takes each numbered delivery of a subscriber grain once and in its sender's order, however often
/// it is sent and in whatever order it arrives; a gap that does not fill in time is given up on, and what it held
/// is known from the running counts of the deliveries around it.
/// </summary>
public sealed class DeliveryWindowTests
{
    private static readonly DateTime Start = new(2026, 11, 28, 12, 0, 0, DateTimeKind.Utc);

    private readonly DeliveryWindow<string> _window = new(maxHeldMessages: 100);
    private readonly List<string> _ready = [];

    [Fact]
    public void Client_TakesEachNumberOfASenderOnce()
    {
        Assert.Equal(Arrival.Taken, Take(7, 1));
        Assert.Equal(Arrival.Copy, Take(7, 1));
        Assert.Equal(Arrival.Taken, Take(7, 2));
        Assert.Equal(Arrival.Copy, Take(7, 1));
        Assert.Equal(["7:1", "7:2"], _ready);
    }

    [Fact]
    public void Client_HoldsANumberThatArrivesEarly_UntilThoseBeforeItArrive_ThenTakesThemInOrder()
    {
        Take(7, 1);

        // A moved grain's next activation numbers on (4) and overtakes the old one's last one-way calls, which arrive reversed.
        Assert.Equal(Arrival.Held, Take(7, 4));
        Assert.Equal(Arrival.Held, Take(7, 3));
        Assert.Equal(Arrival.Copy, Take(7, 4));
        Assert.Equal(["7:1"], _ready);
        Assert.True(_window.HasGap);

        Assert.Equal(Arrival.Taken, Take(7, 2));
        Assert.Equal(["7:1", "7:2", "7:3", "7:4"], _ready);
        Assert.False(_window.HasGap);

        // The one-way copy of the delivery that was in flight: the same number.
        Assert.Equal(Arrival.Copy, Take(7, 2));
        Assert.Equal(Arrival.Taken, Take(7, 5));
        Assert.Equal(["7:1", "7:2", "7:3", "7:4", "7:5"], _ready);
    }

    [Fact]
    public void Client_StartsANewSenderAtOne()
    {
        Assert.Equal(Arrival.Held, Take(9, 2));
        Assert.Equal(Arrival.Taken, Take(9, 1));
        Assert.Equal(["9:1", "9:2"], _ready);
    }

    [Fact]
    public void Client_GivesUpOnAGapAfterItsTimeout_AndCallsWhatArrivesOfItLaterLateOnce()
    {
        Take(7, 1);
        Assert.Equal(Arrival.Held, Take(7, 4, at: Start));
        Assert.Equal(Start + DeliveryWindow<string>.GapTimeout, _window.GapDeadline);

        _window.Flush(Start + DeliveryWindow<string>.GapTimeout - TimeSpan.FromMilliseconds(1), _ready);
        Assert.Equal(["7:1"], _ready);

        _window.Flush(Start + DeliveryWindow<string>.GapTimeout, _ready);
        Assert.Equal(["7:1", "7:4"], _ready);
        Assert.Equal([(7L, 2L, 3L, (long?)2)], _window.GivenUp);
        Assert.False(_window.HasGap);
        Assert.Null(_window.GapDeadline);

        Assert.Equal(Arrival.Late, Take(7, 3));
        Assert.Equal(Arrival.Copy, Take(7, 3));
        Assert.Equal(Arrival.Late, Take(7, 2));
        Assert.Equal(Arrival.Copy, Take(7, 4));
        Assert.Equal(Arrival.Taken, Take(7, 5));
        Assert.Equal(["7:1", "7:4", "7:5"], _ready);
    }

    [Fact]
    public void Client_GivesUpOnAGapAtOnce_WhenMoreThanItsBoundIsHeldBehindIt()
    {
        var window = new DeliveryWindow<string>(maxHeldMessages: 10);
        window.Take(7, 1, 0, "7:1", 1, Start, _ready);
        Assert.Equal(Arrival.Held, window.Take(7, 3, 2, "7:3", 6, Start, _ready));
        Assert.Equal(["7:1"], _ready);

        Assert.Equal(Arrival.Held, window.Take(7, 4, 8, "7:4", 6, Start, _ready));
        Assert.Equal(["7:1", "7:3", "7:4"], _ready);
        Assert.Equal([(7L, 2L, 2L, (long?)1)], window.GivenUp);
        Assert.Equal(Arrival.Late, window.Take(7, 2, 1, "7:2", 1, Start, _ready));
    }

    [Fact]
    public void Client_HandsOverWhatItHeld_WhenTheSubscriptionEnds()
    {
        Take(7, 1);
        Take(7, 3);
        Take(7, 4);
        Take(8, 2);

        Assert.Equal(["7:3", "7:4", "8:2"], _window.TakeHeld());
        Assert.False(_window.HasGap);
        Assert.True(_window.IsCopy(7, 1));
        Assert.False(_window.IsCopy(7, 2));
    }

    [Fact]
    public void Client_RemembersOnlyTheRecentlyUsedSenders()
    {
        Take(1, 1);
        Take(2, 1);
        Take(2, 3);
        for (var sender = 3; sender <= DeliveryWindow<string>.RememberedSenders; sender++)
        {
            Take(sender, 1);
            Take(1, sender - 1);
        }

        // Sender 1 was used all along: sender 2, used least recently, is forgotten for the new one, and what it held goes on.
        _ready.Clear();
        Assert.Equal(Arrival.Taken, Take(DeliveryWindow<string>.RememberedSenders + 1, 1));
        Assert.Equal(["9:1", "2:3"], _ready);
        Assert.Equal(Arrival.Copy, Take(1, 1));
        Assert.Equal(Arrival.Taken, Take(2, 1));
    }

    [Fact]
    public void Client_CountsTheGapOfASenderItForgets()
    {
        // Sender 2's delivery 1 holds 2 messages, its delivery 2 (3 messages) never arrives, 3 says 5 were sent before it.
        _window.Take(2, 1, 0, "2:1", 2, Start, _ready);
        _window.Take(2, 3, 5, "2:3", 1, Start, _ready);
        for (var sender = 3; sender <= DeliveryWindow<string>.RememberedSenders + 2; sender++)
        {
            _window.Take(sender, 1, 0, $"{sender}:1", 1, Start, _ready);
        }

        Assert.Equal(["2:1", "3:1", "4:1", "5:1", "6:1", "7:1", "8:1", "9:1", "10:1", "2:3"], _ready);
        Assert.Equal([(2L, 2L, 2L, (long?)3)], _window.GivenUp);
        Assert.False(_window.HasGap);
    }

    [Fact]
    public void Client_KnowsHowManyMessagesAGapGivenUpOnHeld_FromTheRunningCountsAroundIt()
    {
        // Delivery 1 holds 2 messages, 2 (never arrives) 3, 3 (never arrives) 4; 4 says 9 were sent before it.
        Assert.Equal(Arrival.Taken, _window.Take(7, 1, 0, "7:1", 2, Start, _ready));
        Assert.Equal(Arrival.Held, _window.Take(7, 4, 9, "7:4", 1, Start, _ready));
        _window.Flush(Start + DeliveryWindow<string>.GapTimeout, _ready);
        Assert.Equal([(7L, 2L, 3L, (long?)7)], _window.GivenUp);

        // The count runs on from what was taken last: a later gap holds only its own.
        _window.GivenUp.Clear();
        Assert.Equal(Arrival.Held, _window.Take(7, 6, 15, "7:6", 1, Start, _ready));
        _window.Flush(Start + DeliveryWindow<string>.GapTimeout, _ready);
        Assert.Equal([(7L, 5L, 5L, (long?)5)], _window.GivenUp);
        Assert.Equal(Arrival.Late, _window.Take(7, 5, 10, "7:5", 5, Start, _ready));
        Assert.Equal(["7:1", "7:4", "7:6"], _ready);
    }

    [Fact]
    public void Client_CountsTheFirstDeliveriesOfASenderItNeverSaw_FromItsFirstCount()
    {
        // A moved grain's next activation carries on the count: all the old activation's deliveries were lost.
        Assert.Equal(Arrival.Held, _window.Take(7, 3, 4, "7:3", 1, Start, _ready));
        _window.Flush(Start + DeliveryWindow<string>.GapTimeout, _ready);
        Assert.Equal([(7L, 1L, 2L, (long?)4)], _window.GivenUp);
        Assert.Equal(["7:3"], _ready);
    }

    [Fact]
    public void Client_CountsNothingForADurableMembersGap()
    {
        Assert.Equal(Arrival.Taken, _window.Take(7, 1, null, "7:1", 2, Start, _ready));
        Assert.Equal(Arrival.Held, _window.Take(7, 3, null, "7:3", 2, Start, _ready));
        _window.Flush(Start + DeliveryWindow<string>.GapTimeout, _ready);
        Assert.Equal([(7L, 2L, 2L, (long?)null)], _window.GivenUp);
    }

    // Each delivery holds one message: the sender sent sequence - 1 before it.
    private Arrival Take(long sender, long sequence, DateTime? at = null) =>
        _window.Take(sender, sequence, sequence - 1, $"{sender}:{sequence}", 1, at ?? Start, _ready);
}
