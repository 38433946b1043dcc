namespace OrleansBroker.Tests.Conformance;

public sealed class MemoryBrokerDurableConformanceTests : DurableConformanceTests
{
    protected override IBroker CreateBroker(BrokerOptions? options = null) => new MemoryBroker(options);
}
