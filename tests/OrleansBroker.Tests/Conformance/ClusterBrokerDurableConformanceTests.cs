using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Conformance;

[Collection(ClusterCollection.Name)]
public sealed class ClusterBrokerDurableConformanceTests(ClusterFixture fixture) : DurableConformanceTests
{
    protected override IBroker CreateBroker(BrokerOptions? options = null) => new ClusterBroker(fixture.Cluster.Client, options);
}
