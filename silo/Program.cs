using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Dashboard;
using OrleansBroker.Silo;

// The broker's silo: one silo on localhost clustering with in-memory storage and the Orleans
// Dashboard unless configured otherwise. Settings: appsettings.json, then Broker__* environment
// variables, then the command line (the switches below, or any --Broker:Key=value).
var switches = new Dictionary<string, string>
{
    ["--silo-port"] = "Broker:SiloPort",
    ["--gateway-port"] = "Broker:GatewayPort",
    ["--dashboard-port"] = "Broker:DashboardPort",
    ["--lease"] = "Broker:SubscriptionLease",
    ["--clustering"] = "Broker:Clustering",
    ["--redis"] = "Broker:Redis",
    ["--address"] = "Broker:Address",
    ["--cluster-id"] = "Broker:ClusterId",
    ["--probe-timeout"] = "Broker:ProbeTimeout",
};

SiloSettings settings;
try
{
    var configuration = new ConfigurationBuilder()
        .SetBasePath(AppContext.BaseDirectory)
        .AddJsonFile("appsettings.json", optional: true)
        .AddEnvironmentVariables()
        .AddCommandLine(args, switches)
        .Build();
    settings = configuration.GetSection("Broker").Get<SiloSettings>() ?? new SiloSettings();
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

// A web host only when the dashboard is on, so a silo without it opens no HTTP port at all.
var builderOptions = new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] };
IHostApplicationBuilder builder = settings.DashboardPort == 0
    ? Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory, Args = [] })
    : WebApplication.CreateBuilder(builderOptions);
builder.Configuration.AddCommandLine(args, switches);
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "HH:mm:ss ";
});
builder.UseOrleans(silo => SiloHosting.Configure(silo, settings));

IHost app;
if (builder is WebApplicationBuilder web)
{
    // The dashboard is for a person on this machine: bind it to loopback only.
    web.WebHost.UseUrls($"http://127.0.0.1:{settings.DashboardPort}");
    var webApp = web.Build();
    webApp.MapOrleansDashboard();
    app = webApp;
}
else
{
    app = ((HostApplicationBuilder)builder).Build();
}

using var disposeApp = app;
var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansBroker.Silo");
app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() => logger.LogInformation("OrleansBroker silo ready: {Setup}", settings.Describe()));
try
{
    await app.RunAsync();
    return 0;
}
catch (Exception ex) when (ex is not OperationCanceledException)
{
    Console.Error.WriteLine($"silo: could not run: {ex.GetBaseException().Message}");
    return 1;
}
