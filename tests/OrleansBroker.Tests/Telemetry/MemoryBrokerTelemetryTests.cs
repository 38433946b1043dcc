namespace OrleansBroker.Tests.Telemetry;

public sealed class MemoryBrokerTelemetryTests : BrokerTelemetryTests
{
    protected override IBroker CreateBroker(BrokerOptions? options = null) => new MemoryBroker(options);
}
