using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace OrleansBroker.Silo;

/// <summary>
/// The probes on their own port (Broker:HealthPort), on the silo's address where an orchestrator
/// reaches them. A small web server of its own, registered before the silo so that it listens
/// before the silo starts to join: readiness then answers 503 until the silo is Active, where a
/// server that starts after the silo would refuse connections instead. It serves nothing else.
/// </summary>
internal sealed class HealthServer(IServiceProvider silo, IPAddress address, int port) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address, port));
        HealthEndpoints.AddTo(builder.Services, _ => silo.GetRequiredService<ISiloStatusOracle>());
        _app = builder.Build();
        HealthEndpoints.Map(_app);
        await _app.StartAsync(cancellationToken);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }
}
