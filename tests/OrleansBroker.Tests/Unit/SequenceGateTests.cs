using OrleansBroker.Grains;
using OrleansBroker.Server.Grains;

namespace OrleansBroker.Tests.Unit;

public sealed class SequenceGateTests
{
    private static readonly Guid StreamA = Guid.NewGuid();
    private static readonly Guid StreamB = Guid.NewGuid();

    private static DeliveryBatch Batch(Guid stream, long sequence) => new("t", stream, sequence, []);

    private static List<long> Accept(SequenceGate gate, params DeliveryBatch[] batches)
    {
        var ready = new List<DeliveryBatch>();
        foreach (var batch in batches)
        {
            gate.Accept(batch, ready);
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
    public void LeftBehindStream_IsDropped_WithoutLosingTheNewOne() =>
        Assert.Equal([0, 1], Accept(new SequenceGate(), Batch(StreamA, 7), Batch(StreamB, 0), Batch(StreamA, 8), Batch(StreamB, 1)));

    [Fact]
    public void LostBatch_IsGivenUpOnPastMaxHeld()
    {
        var gate = new SequenceGate();
        var batches = Enumerable.Range(2, SequenceGate.MaxHeld + 1).Select(i => Batch(StreamA, i)).Prepend(Batch(StreamA, 0)).ToArray();
        Assert.Equal(Enumerable.Range(2, SequenceGate.MaxHeld + 1).Select(i => (long)i).Prepend(0), Accept(gate, batches));
    }
}
