using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Conformance;

[Collection(ClusterCollection.Name)]
public sealed class ClusterBrokerConformanceTests(ClusterFixture fixture) : BrokerConformanceTests
{
    protected override IBroker CreateBroker(BrokerOptions? options = null) => new ClusterBroker(fixture.Cluster.Client, options);

    [Fact]
    public void ToString_IsOrleans() => Assert.Equal("orleans", new ClusterBroker(fixture.Cluster.Client).ToString());
}
