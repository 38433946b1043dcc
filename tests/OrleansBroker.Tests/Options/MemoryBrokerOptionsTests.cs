namespace OrleansBroker.Tests.Options;

public sealed class MemoryBrokerOptionsTests : BrokerOptionsTests
{
    protected override IBroker CreateBroker(BrokerOptions? options = null) => new MemoryBroker(options);
}
