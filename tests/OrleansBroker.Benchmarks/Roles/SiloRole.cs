using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Hosting;

namespace OrleansBroker.Benchmarks.Roles;

/// <summary>Names shared by the benchmark's silo and its clients.</summary>
internal static class SiloRoleNames
{
    public const string ClusterId = "bench";
    public const string StreamProvider = "bench";
}

/// <summary>The benchmark's silo process: the broker and Orleans memory streams on one silo, so both are measured on the same one.</summary>
internal static class SiloRole
{
    public static async Task<int> RunAsync(int siloPort, int gatewayPort)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo => silo
            .UseLocalhostClustering(siloPort, gatewayPort, serviceId: SiloRoleNames.ClusterId, clusterId: SiloRoleNames.ClusterId)
            // The subscribers ask for MaxPending 4,000,000 so that a run never drops: the silo must allow it.
            .AddBroker(o => o.MaxPendingLimit = 4_000_000)
            .AddMemoryStreams(SiloRoleNames.StreamProvider)
            .AddMemoryGrainStorage("PubSubStore"));
        using var host = builder.Build();
        await host.StartAsync();
        Console.WriteLine("ready");

        // Runs until the orchestrator closes standard input (or kills it). "heap" asks for the
        // managed heap after a full collection: live objects only, without the GC's headroom.
        await Task.Run(() =>
        {
            while (Console.In.ReadLine() is { } line)
            {
                if (line == "heap")
                {
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
                    GC.WaitForPendingFinalizers();
                    Console.WriteLine($"heap {GC.GetTotalMemory(forceFullCollection: true)}");
                }
            }
        });
        await host.StopAsync(TimeSpan.FromSeconds(10));
        return 0;
    }
}
