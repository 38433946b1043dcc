using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Dashboard;
using Orleans.Runtime;
using OrleansBroker.Internal;
using OrleansBroker.Silo;

// The broker's silo: one silo on localhost clustering with its store (an embedded Garnet) on local
// disk and the Orleans Dashboard unless configured otherwise. Settings: appsettings.json, then Broker__* environment
// variables, then the command line (the switches below, or any --Broker:Key=value).
var switches = new Dictionary<string, string>
{
    ["--silo-port"] = "Broker:SiloPort",
    ["--gateway-port"] = "Broker:GatewayPort",
    ["--dashboard-port"] = "Broker:DashboardPort",
    ["--health-port"] = "Broker:HealthPort",
    ["--lease"] = "Broker:SubscriptionLease",
    ["--clustering"] = "Broker:Clustering",
    ["--redis"] = "Broker:Redis",
    ["--address"] = "Broker:Address",
    ["--cluster-id"] = "Broker:ClusterId",
    ["--data-dir"] = "Broker:DataDir",
    ["--store-port"] = "Broker:StorePort",
    ["--probe-timeout"] = "Broker:ProbeTimeout",
    ["--tls-cert"] = "Broker:TlsCertificate",
    ["--tls-cert-password"] = "Broker:TlsCertificatePassword",
    ["--tls-ca"] = "Broker:TlsCa",
    ["--tls-require-client-cert"] = "Broker:TlsRequireClientCertificate",
};

// A flag on the command line; the configuration's reader takes the next word as every switch's value.
args = [.. args.SelectMany((arg, i) => arg == "--tls-require-client-cert" && (i + 1 == args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
    ? new[] { arg, "true" }
    : [arg])];

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

SiloTls? tls;
try
{
    tls = SiloTls.Load(settings);
}
catch (CertificateFileException ex)
{
    Console.Error.WriteLine($"silo: {ex.Message}");
    return 2;
}

// The single silo's store, started before the silo that keeps its state there and stopped after it.
LocalStore? store = null;
if (!settings.UsesRedis)
{
    try
    {
        store = LocalStore.Open(settings.EffectiveDataDir!, settings.StorePort);
    }
    catch (DataDirectoryException ex)
    {
        Console.Error.WriteLine($"silo: {ex.Message}");
        return 2;
    }
    catch (Exception ex)
    {
        Console.Error.WriteLine($"silo: could not start the store in {settings.EffectiveDataDir}: {ErrorText.FirstLine(ex.GetBaseException())}");
        return 1;
    }
}

using var disposeStore = store;

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

// Registered before the silo, so hosted services start it first: its probes answer while the silo joins.
if (settings.HealthPort != 0)
{
    builder.Services.AddSingleton<IHostedService>(services => new HealthServer(services, settings.ParsedAddress, settings.HealthPort));
}

builder.UseOrleans(silo =>
{
    SiloHosting.Configure(silo, settings, tls, store?.Connection);
    SiloTelemetry.AddTo(silo, builder.Configuration);
});
SiloTelemetry.AddTo(builder.Services, builder.Configuration);

IHost app;
if (builder is WebApplicationBuilder web)
{
    // The dashboard is for a person on this machine: bind it to loopback only.
    web.WebHost.UseUrls($"http://127.0.0.1:{settings.DashboardPort}");
    HealthEndpoints.AddTo(web.Services, services => services.GetRequiredService<ISiloStatusOracle>());
    var webApp = web.Build();
    webApp.MapOrleansDashboard();
    HealthEndpoints.Map(webApp);
    app = webApp;
}
else
{
    app = ((HostApplicationBuilder)builder).Build();
}

using var disposeApp = app;
var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansBroker.Silo");
app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() => logger.LogInformation("OrleansBroker silo ready: {Setup}", settings.Describe(store)));
try
{
    await app.RunAsync();
    return 0;
}
catch (Exception ex) when (ex is not OperationCanceledException)
{
    // Name the store that failed by its endpoints: the connection string may hold a password.
    var failed = settings.UsesRedis && ex.GetBaseException() is StackExchange.Redis.RedisConnectionException ? $"Redis at {RedisConnectionText.Describe(settings.ParsedRedis.EndPoints)}: " : "";
    Console.Error.WriteLine($"silo: could not run: {failed}{settings.Redact(ErrorText.FirstLine(ex.GetBaseException()))}");
    return 1;
}
