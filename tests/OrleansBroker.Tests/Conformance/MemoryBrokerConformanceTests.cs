namespace OrleansBroker.Tests.Conformance;

public sealed class MemoryBrokerConformanceTests : BrokerConformanceTests
{
    protected override IBroker CreateBroker(BrokerOptions? options = null) => new MemoryBroker(options);

    [Fact]
    public void ToString_IsMemory() => Assert.Equal("memory", new MemoryBroker().ToString());
}
