using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Orleans.Hosting;

namespace OrleansBroker.Silo;

/// <summary>
/// The silo's OpenTelemetry: when the standard OTEL_EXPORTER_OTLP_ENDPOINT is set, its traces and
/// metrics (the broker's and Orleans' own) go out over OTLP, configured by the standard OTEL_*
/// variables; when it is not, nothing is set up at all.
/// </summary>
internal static class SiloTelemetry
{
    /// <summary>The service.name the silo reports unless OTEL_SERVICE_NAME says otherwise.</summary>
    public const string ServiceName = "orleansbroker-silo";

    public static bool Enabled(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);

    /// <summary>The exporters, on the host's services; the host's configuration holds the environment's OTEL_* variables.</summary>
    public static void AddTo(IServiceCollection services, IConfiguration configuration)
    {
        if (!Enabled(configuration))
        {
            return;
        }

        services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                if (string.IsNullOrWhiteSpace(configuration["OTEL_SERVICE_NAME"]))
                {
                    resource.AddService(ServiceName);
                }
            })
            .WithTracing(tracing => tracing
                .AddSource("OrleansBroker", Orleans.Diagnostics.ActivitySources.AllActivitySourceName)
                .AddOtlpExporter())
            .WithMetrics(metrics => metrics
                .AddMeter("OrleansBroker", "Microsoft.Orleans")
                .AddOtlpExporter());
    }

    /// <summary>Carries callers' traces through grain calls, so the spans Orleans makes here join them.</summary>
    public static void AddTo(ISiloBuilder silo, IConfiguration configuration)
    {
        if (Enabled(configuration))
        {
            silo.AddActivityPropagation();
        }
    }
}
