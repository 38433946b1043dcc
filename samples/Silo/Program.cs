using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Hosting;

// One silo with the broker's grains, on the ports and cluster id the publisher and worker expect
// (the same as the repository's own silo, so either one serves them).
var builder = Host.CreateApplicationBuilder(args);
// Categories match by prefix: "Orleans" would also quieten "OrleansBroker".
builder.Logging.AddFilter("Orleans", LogLevel.Warning);
builder.Logging.AddFilter("OrleansBroker", LogLevel.Information);
builder.Logging.AddFilter("Polly", LogLevel.Warning);
builder.UseOrleans(silo => silo
    .UseLocalhostClustering(siloPort: 11111, gatewayPort: 30000, serviceId: "orleansbroker", clusterId: "orleansbroker")
    .AddBroker());
await builder.Build().RunAsync();
