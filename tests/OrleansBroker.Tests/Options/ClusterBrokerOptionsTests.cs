using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Options;

[Collection(ClusterCollection.Name)]
public sealed class ClusterBrokerOptionsTests(ClusterFixture fixture) : BrokerOptionsTests
{
    protected override IBroker CreateBroker(BrokerOptions? options = null) => new ClusterBroker(fixture.Cluster.Client, options);
}
