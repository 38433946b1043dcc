using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Hosting;
using OrleansBroker.Silo;

// The broker's silo: one silo on localhost clustering with in-memory storage unless configured
// otherwise. Settings: appsettings.json, then Broker__* environment variables, then the command line
// (--silo-port, --gateway-port, --lease, or any --Broker:Key=value).
var switches = new Dictionary<string, string>
{
    ["--silo-port"] = "Broker:SiloPort",
    ["--gateway-port"] = "Broker:GatewayPort",
    ["--lease"] = "Broker:SubscriptionLease",
};

SiloSettings settings;
HostApplicationBuilder builder;
try
{
    builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
    {
        ContentRootPath = AppContext.BaseDirectory,
        Args = [],
    });
    builder.Configuration.AddCommandLine(args, switches);
    settings = builder.Configuration.GetSection("Broker").Get<SiloSettings>() ?? new SiloSettings();
}
catch (Exception ex) when (ex is FormatException or InvalidOperationException)
{
    Console.Error.WriteLine($"silo: bad setting: {ex.Message}");
    return 2;
}

if (settings.Problem() is { } problem)
{
    Console.Error.WriteLine($"silo: {problem}");
    return 2;
}

builder.Logging.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "HH:mm:ss ";
});
builder.UseOrleans(silo =>
{
    silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort);
    silo.AddBroker(o => o.SubscriptionLease = settings.SubscriptionLease);
});

using var host = builder.Build();
var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansBroker.Silo");
host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() =>
    logger.LogInformation("OrleansBroker silo ready: silo port {SiloPort}, gateway port {GatewayPort}, localhost clustering, in-memory storage",
        settings.SiloPort, settings.GatewayPort));
try
{
    await host.RunAsync();
    return 0;
}
catch (Exception ex) when (ex is not OperationCanceledException)
{
    Console.Error.WriteLine($"silo: could not run: {ex.GetBaseException().Message}");
    return 1;
}
