using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Hosting;
using OrleansBroker.Samples.Publisher;

// A service that publishes orders: an Orleans client, the broker from DI with its options bound
// from the "OrleansBroker" section (appsettings.json, or OrleansBroker__MaxMessageBytes in the
// environment), and a hosted service that publishes.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.UseOrleansClient(client => client.UseLocalhostClustering(gatewayPort: 30000, serviceId: "orleansbroker", clusterId: "orleansbroker"));
builder.Services.AddClusterBroker(builder.Configuration.GetSection("OrleansBroker"));
builder.Services.AddHostedService<OrderPublisher>();
await builder.Build().RunAsync();
