using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Hosting;
using OrleansBroker.Samples.Worker;

// A service that handles orders: an Orleans client, the broker from DI with its options bound from
// the "OrleansBroker" section, and a hosted service that subscribes. Run two: each order goes to one.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.UseOrleansClient(client => client.UseLocalhostClustering(gatewayPort: 30000, serviceId: "orleansbroker", clusterId: "orleansbroker"));
builder.Services.AddClusterBroker(builder.Configuration.GetSection("OrleansBroker"));
builder.Services.AddHostedService<OrderWorker>();
await builder.Build().RunAsync();
