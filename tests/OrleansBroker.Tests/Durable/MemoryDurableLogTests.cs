using OrleansBroker.Durable;

namespace OrleansBroker.Tests.Durable;

public sealed class MemoryDurableLogTests : DurableLogContractTests
{
    private readonly MemoryDurableLog _log = new();

    protected override IDurableLog Log => _log;

    protected override IDurableLog OtherLog => _log;
}
