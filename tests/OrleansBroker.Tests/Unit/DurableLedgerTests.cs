using OrleansBroker.Durable;
using OrleansBroker.Server.Durable;
using OrleansBroker.Subscriptions;

namespace OrleansBroker.Tests.Unit;

public sealed class DurableLedgerTests
{
    private static readonly DateTime Now = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private static List<LoggedMessage> Log(long first, int count) =>
        Enumerable.Range(0, count).Select(i => new LoggedMessage(first + i, Message.FromString((first + i).ToString()))).ToList();

    [Fact]
    public void AcksOutOfOrder_MoveTheFloorOnlyOverAContiguousRun()
    {
        var ledger = new DurableLedger(1);
        ledger.Load(Log(1, 3), window: 100);
        var tags = ledger.TakeReady(3).Select(e => ledger.Send(e, "m", Now.AddMinutes(1))).ToList();

        Assert.True(ledger.Ack("m", tags[1]));
        Assert.Equal(1, ledger.Floor);
        Assert.Equal(2, ledger.Backlog);
        Assert.True(ledger.Ack("m", tags[0]));
        Assert.Equal(3, ledger.Floor);
        Assert.Equal(1, ledger.Backlog);
    }

    [Fact]
    public void LateAck_AfterRedelivery_OrFromAnotherMember_ChangesNothing()
    {
        var ledger = new DurableLedger(1);
        ledger.Load(Log(1, 1), window: 100);
        var first = ledger.Send(ledger.TakeReady(1)[0], "a", Now);
        Assert.Equal(1, ledger.Expire(Now));
        var second = ledger.Send(ledger.TakeReady(1)[0], "b", Now.AddMinutes(1));

        Assert.Equal(new DeliveryTag(1, 2), second);
        Assert.False(ledger.Ack("a", first));
        Assert.False(ledger.Ack("a", second));
        Assert.True(ledger.Ack("b", second));
        Assert.Equal(0, ledger.Backlog);
    }

    [Fact]
    public void Nak_WithDelay_IsReadyOnlyWhenDue_AndLeaving_ReleasesAtOnce()
    {
        var ledger = new DurableLedger(1);
        ledger.Load(Log(1, 2), window: 100);
        var taken = ledger.TakeReady(2);
        var nakked = ledger.Send(taken[0], "a", Now.AddMinutes(1));
        ledger.Send(taken[1], "a", Now.AddMinutes(1));

        Assert.True(ledger.Nak("a", nakked, TimeSpan.FromSeconds(5), Now));
        Assert.Equal(0, ledger.Expire(Now.AddSeconds(4)));
        Assert.Equal(1, ledger.Expire(Now.AddSeconds(5)));
        Assert.Equal(1, ledger.Release("a"));
        Assert.Equal(2, ledger.Ready);
        Assert.Equal(0, ledger.AckPending);
    }

    [Fact]
    public void Load_StopsAtTheWindow_AndARunTrimmedFromTheLogCountsAsSettled()
    {
        var ledger = new DurableLedger(1) { Last = 10 };
        Assert.Equal(2, ledger.Load(Log(1, 5), window: 2));
        Assert.Equal(3, ledger.Next);

        var fresh = new DurableLedger(1) { Last = 10 };
        fresh.Load(Log(6, 5), window: 100);
        Assert.Equal(6, fresh.Floor);
        Assert.Equal(5, fresh.Backlog);
    }

    [Fact]
    public void DeliveryCounts_SurviveAReload()
    {
        var ledger = new DurableLedger(1);
        ledger.Load(Log(1, 1), window: 100);
        ledger.Send(ledger.TakeReady(1)[0], "a", Now);
        var stored = ledger.Deliveries();

        var reloaded = new DurableLedger(1, stored);
        reloaded.Load(Log(1, 1), window: 100);
        Assert.Equal(new DeliveryTag(1, 2), reloaded.Send(reloaded.TakeReady(1)[0], "a", Now));
    }

    [Fact]
    public void ManyMessages_AckedInAnyOrder_WhileMoreLoad_EndWithTheFloorPastThemAll()
    {
        // More than the ring starts with, loaded in steps while acks move the floor: the ring wraps and grows.
        var ledger = new DurableLedger(1);
        var random = new Random(7);
        var outstanding = new List<DeliveryTag>();
        for (long next = 1; next <= 1_000; next += 100)
        {
            ledger.Load(Log(next, 100), window: 4_096);
            outstanding.AddRange(ledger.TakeReady(1_000).Select(e => ledger.Send(e, "m", Now.AddMinutes(1))));
            foreach (var tag in outstanding.OrderBy(_ => random.Next()).Take(outstanding.Count / 2).ToList())
            {
                Assert.True(ledger.Ack("m", tag));
                outstanding.Remove(tag);
            }

            Assert.Equal(outstanding.Count, ledger.AckPending);
            Assert.Equal(outstanding.Min(t => t.Sequence), ledger.Floor);
            Assert.Equal(outstanding.Count, ledger.Backlog);
        }

        foreach (var tag in outstanding)
        {
            Assert.True(ledger.Ack("m", tag));
        }

        Assert.Equal(1_001, ledger.Floor);
        Assert.Equal(0, ledger.Backlog);
        Assert.Equal(0, ledger.InMemory);
    }

    [Fact]
    public void MessagesThatComeBack_GoOutAgainBeforeNewOnes_LowestFirst()
    {
        var ledger = new DurableLedger(1);
        ledger.Load(Log(1, 6), window: 100);
        var tags = ledger.TakeReady(4).Select(e => ledger.Send(e, "a", Now.AddMinutes(1))).ToList();
        ledger.Begin("a", tags[1], Now.AddMinutes(1));

        Assert.True(ledger.Nak("a", tags[2], TimeSpan.Zero, Now));
        Assert.Equal(2, ledger.ReleaseUnbegun("a"));
        Assert.Equal(1, ledger.Release("a", [tags[1].Sequence, 99]));

        Assert.Equal(0, ledger.AckPending);
        Assert.Equal(6, ledger.Ready);
        Assert.Equal([1L, 2, 3, 4, 5, 6], ledger.TakeReady(10).Select(e => e.Sequence));
    }
}
