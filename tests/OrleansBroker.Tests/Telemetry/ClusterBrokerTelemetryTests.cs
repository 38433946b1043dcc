using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Telemetry;

[Collection(ClusterCollection.Name)]
public sealed class ClusterBrokerTelemetryTests(ClusterFixture fixture) : BrokerTelemetryTests
{
    protected override IBroker CreateBroker(BrokerOptions? options = null) => new ClusterBroker(fixture.Cluster.Client, options);
}
