using OrleansBroker.Grains;
using OrleansBroker.Server.Grains;

namespace OrleansBroker.Tests.Unit;

public sealed class SequenceGateTests
{
    private static readonly DateTime Now = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private const long StreamA = 100;
    private const long StreamB = 200;

    private static DeliveryBatch Batch(long stream, long sequence) => new("t", stream, sequence, []);

    private static List<long> Accept(SequenceGate gate, params DeliveryBatch[] batches)
    {
        var ready = new List<DeliveryBatch>();
        foreach (var batch in batches)
        {
            gate.Accept(batch, ready, Now);
        }

        return ready.Select(b => b.Sequence).ToList();
    }

    [Fact]
    public void InOrder_PassesStraightThrough() =>
        Assert.Equal([0, 1, 2], Accept(new SequenceGate(), Batch(StreamA, 0), Batch(StreamA, 1), Batch(StreamA, 2)));

    [Fact]
    public void Early_IsHeldUntilTheGapFills() =>
        Assert.Equal([0, 1, 2, 3, 4], Accept(new SequenceGate(), Batch(StreamA, 0), Batch(StreamA, 3), Batch(StreamA, 2), Batch(StreamA, 4), Batch(StreamA, 1)));

    [Fact]
    public void Repeated_IsDropped() =>
        Assert.Equal([0, 1], Accept(new SequenceGate(), Batch(StreamA, 0), Batch(StreamA, 0), Batch(StreamA, 1), Batch(StreamA, 0)));

    [Fact]
    public void NewStream_StartsAgainFromZero_EvenWhenItsFirstBatchIsLate() =>
        Assert.Equal([0, 1, 0, 1, 2], Accept(new SequenceGate(), Batch(StreamA, 0), Batch(StreamA, 1), Batch(StreamB, 1), Batch(StreamB, 0), Batch(StreamB, 2)));

    [Fact]
    public void NewStream_HandsOverWhatWaitedBehindAGapInTheOldOne() =>
        // A subscriber activated anew gets the old stream's batches from the middle (its start was
        // with the previous activation) until the topic starts it a new stream: none is dropped.
        Assert.Equal([5, 6, 0, 1], Accept(new SequenceGate(), Batch(StreamA, 5), Batch(StreamA, 6), Batch(StreamB, 0), Batch(StreamB, 1)));

    [Fact]
    public void OlderStream_IsDropped_WithoutLosingTheNewOne() =>
        Assert.Equal([0, 1], Accept(new SequenceGate(), Batch(StreamB, 1), Batch(StreamA, 7), Batch(StreamB, 0), Batch(StreamA, 8)));

    [Fact]
    public void OlderStream_IsReportedStale()
    {
        var gate = new SequenceGate();
        Assert.True(gate.Accept(Batch(StreamB, 0), [], Now));
        Assert.False(gate.Accept(Batch(StreamA, 0), [], Now));
        Assert.Equal(StreamB, gate.Stream);
    }

    [Fact]
    public void Gap_IsGivenUpOnAfterItsTimeout()
    {
        var gate = new SequenceGate();
        var ready = new List<DeliveryBatch>();
        gate.Accept(Batch(StreamA, 1), ready, Now);
        gate.Accept(Batch(StreamA, 2), ready, Now);
        gate.Flush(ready, Now + SequenceGate.GapTimeout / 2);
        Assert.Empty(ready);
        Assert.True(gate.HasGap);

        gate.Flush(ready, Now + SequenceGate.GapTimeout);
        Assert.Equal([1, 2], ready.Select(b => b.Sequence));
        Assert.False(gate.HasGap);

        gate.Accept(Batch(StreamA, 0), ready, Now + SequenceGate.GapTimeout);
        Assert.Equal([1, 2], ready.Select(b => b.Sequence));
    }

    [Fact]
    public void LostBatch_IsGivenUpOnPastMaxHeld()
    {
        var gate = new SequenceGate();
        var batches = Enumerable.Range(2, SequenceGate.MaxHeld + 1).Select(i => Batch(StreamA, i)).Prepend(Batch(StreamA, 0)).ToArray();
        Assert.Equal(Enumerable.Range(2, SequenceGate.MaxHeld + 1).Select(i => (long)i).Prepend(0), Accept(gate, batches));
    }

    private static DeliveryBatch Counted(long stream, long sequence, int messages, long sentBefore) =>
        new("t", stream, sequence, [.. Enumerable.Range(0, messages).Select(_ => new Message(new byte[1]))], SentBefore: sentBefore);

    [Fact]
    public void LostBatch_IsCountedFromTheNextBatchsRunningCount_AndNotAgainWhenItComesLate()
    {
        var gate = new SequenceGate();
        var ready = new List<DeliveryBatch>();
        gate.Accept(Counted(StreamA, 0, 3, sentBefore: 0), ready, Now);
        gate.Accept(Counted(StreamA, 2, 4, sentBefore: 5), ready, Now);
        Assert.Equal(0, gate.TakeLost());

        gate.Flush(ready, Now + SequenceGate.GapTimeout);
        Assert.Equal([0, 2], ready.Select(b => b.Sequence));
        Assert.Equal(2, gate.TakeLost());

        gate.Accept(Counted(StreamA, 1, 2, sentBefore: 3), ready, Now + SequenceGate.GapTimeout);
        Assert.Equal(0, gate.TakeLost());
        Assert.Equal(0, gate.TakeDiscarded());
        Assert.Equal([0, 2], ready.Select(b => b.Sequence));
    }

    [Fact]
    public void FreshGate_JoiningAStreamInTheMiddle_CountsOnlyFromItsFirstBatch()
    {
        // A next activation without a handover (its predecessor crashed) cannot know what that one was given.
        var gate = new SequenceGate();
        var ready = new List<DeliveryBatch>();
        gate.Accept(Counted(StreamA, 5, 1, sentBefore: 100), ready, Now);
        gate.Flush(ready, Now + SequenceGate.GapTimeout);
        Assert.Equal(0, gate.TakeLost());

        gate.Accept(Counted(StreamA, 7, 1, sentBefore: 104), ready, Now + SequenceGate.GapTimeout);
        gate.Flush(ready, Now + (2 * SequenceGate.GapTimeout));
        Assert.Equal([5, 7], ready.Select(b => b.Sequence));
        Assert.Equal(3, gate.TakeLost());
    }

    [Fact]
    public void RestoredPosition_CountsABatchLostRightAfterTheHandover()
    {
        var gate = new SequenceGate();
        gate.Restore(new StreamPosition(StreamA, Next: 3, SentBefore: 10));
        var ready = new List<DeliveryBatch>();
        gate.Accept(Counted(StreamA, 4, 1, sentBefore: 12), ready, Now);
        gate.FlushAll(ready);
        Assert.Equal([4], ready.Select(b => b.Sequence));
        Assert.Equal(2, gate.TakeLost());
        Assert.Equal(new StreamPosition(StreamA, 5, 13, 0), gate.Position);
    }

    [Fact]
    public void AGapCountedBeforeAHandover_IsNotCountedAgain_WhenItsBatchReachesTheNextActivation()
    {
        var old = new SequenceGate();
        var ready = new List<DeliveryBatch>();
        old.Accept(Counted(StreamA, 0, 1, sentBefore: 0), ready, Now);
        old.Accept(Counted(StreamA, 2, 1, sentBefore: 3), ready, Now);
        old.FlushAll(ready);
        Assert.Equal(2, old.TakeLost());

        var next = new SequenceGate();
        next.Restore(old.Position);
        next.Accept(Counted(StreamA, 1, 2, sentBefore: 1), ready, Now);
        Assert.Equal(0, next.TakeLost());
        Assert.Equal(0, next.TakeDiscarded());
        Assert.Equal([0, 2], ready.Select(b => b.Sequence));
    }

    [Fact]
    public void NewStream_CountsTheGapsInTheOldStreamItHandsOver()
    {
        var gate = new SequenceGate();
        var ready = new List<DeliveryBatch>();
        gate.Accept(Counted(StreamA, 0, 2, sentBefore: 0), ready, Now);
        gate.Accept(Counted(StreamA, 2, 1, sentBefore: 5), ready, Now);
        gate.Accept(Counted(StreamB, 1, 1, sentBefore: 1), ready, Now);
        Assert.Equal([0, 2], ready.Select(b => b.Sequence));
        Assert.Equal(3, gate.TakeLost());

        gate.Accept(Counted(StreamB, 0, 1, sentBefore: 0), ready, Now);
        Assert.Equal([0, 2, 0, 1], ready.Select(b => b.Sequence));
        Assert.Equal(0, gate.TakeLost());
    }
}
