using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;

namespace OrleansBroker.Silo;

/// <summary>
/// Ready only while this silo is Active in its cluster: not while it is still joining, nor once it
/// has begun to shut down, so an orchestrator sends no traffic to a silo that cannot take it.
/// </summary>
/// <param name="silo">The silo's own view of its status, resolved at each check.</param>
internal sealed class SiloReadinessCheck(Func<ISiloStatusOracle> silo) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = silo().CurrentStatus;
        return Task.FromResult(status == SiloStatus.Active
            ? HealthCheckResult.Healthy("the silo is Active in its cluster")
            : HealthCheckResult.Unhealthy($"the silo is {status}, not yet (or no longer) Active in its cluster"));
    }
}
