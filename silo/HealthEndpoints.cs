using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;

namespace OrleansBroker.Silo;

/// <summary>
/// The silo's probes for Kubernetes: <c>/health/live</c> answers 200 while the process serves
/// requests at all; <c>/health/ready</c> answers 200 only while the silo is Active in its cluster,
/// else 503. Each answers one line of text: the status and why.
/// </summary>
internal static class HealthEndpoints
{
    public const string LivePath = "/health/live";
    public const string ReadyPath = "/health/ready";

    private const string ReadyTag = "ready";

    /// <summary>Registers the checks; the silo's status comes from <paramref name="silo"/>.</summary>
    public static void AddTo(IServiceCollection services, Func<IServiceProvider, ISiloStatusOracle> silo) =>
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            "silo", provider => new SiloReadinessCheck(() => silo(provider)), HealthStatus.Unhealthy, [ReadyTag]));

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        // Liveness runs no check: a silo that is still joining is alive, and restarting it would not help.
        endpoints.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync });
        endpoints.MapHealthChecks(ReadyPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync });
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        var why = string.Join("; ", report.Entries.Values.Select(e => e.Description).OfType<string>());
        return context.Response.WriteAsync(why.Length == 0 ? $"{report.Status}\n" : $"{report.Status}: {why}\n");
    }
}
