using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Orleans.Hosting;

namespace OrleansBroker.Cli;

/// <summary>
/// The client program's OpenTelemetry: when the standard OTEL_EXPORTER_OTLP_ENDPOINT is set, its
/// traces and metrics (the broker's and Orleans' own) go out over OTLP, configured by the standard
/// OTEL_* variables; when it is not, nothing is set up at all.
/// </summary>
internal static class ClientTelemetry
{
    /// <summary>The service.name the client reports unless OTEL_SERVICE_NAME says otherwise.</summary>
    public const string ServiceName = "orleansbroker-client";

    public static bool Enabled => !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"));

    /// <summary>
    /// Starts exporting for the whole process, null when not <see cref="Enabled"/>. Disposing flushes
    /// what is left: a pub that runs for less than one export interval still reports.
    /// </summary>
    public static IDisposable? Start()
    {
        if (!Enabled)
        {
            return null;
        }

        // Built apart from the Orleans client's host, whose configuration holds no environment
        // variables: without a host, the exporter reads the OTEL_* ones itself.
        var tracing = Sdk.CreateTracerProviderBuilder()
            .ConfigureResource(Describe)
            .AddSource("OrleansBroker", Orleans.Diagnostics.ActivitySources.AllActivitySourceName)
            .AddOtlpExporter()
            .Build();
        var metrics = Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(Describe)
            .AddMeter("OrleansBroker", "Microsoft.Orleans")
            .AddOtlpExporter()
            .Build();
        return new Providers(tracing, metrics);
    }

    /// <summary>Carries the caller's trace through the client's grain calls, so a silo's spans join it.</summary>
    public static void AddTo(IClientBuilder client)
    {
        if (Enabled)
        {
            client.AddActivityPropagation();
        }
    }

    private static void Describe(ResourceBuilder resource)
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME")))
        {
            resource.AddService(ServiceName);
        }
    }

    private sealed class Providers(TracerProvider? tracing, MeterProvider? metrics) : IDisposable
    {
        public void Dispose()
        {
            tracing?.Dispose();
            metrics?.Dispose();
        }
    }
}
