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
    /// <param name="durableLog">
    /// A Redis server (host:port) for the durable log; the durable rows pass the one the Redis Streams peer uses
    /// (append-only file, fsynced every second), so both keep their messages in the same store. Null: in memory.
    /// </param>
    public static async Task<int> RunAsync(int siloPort, int gatewayPort, string? durableLog)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo => silo
            .UseLocalhostClustering(siloPort, gatewayPort, serviceId: SiloRoleNames.ClusterId, clusterId: SiloRoleNames.ClusterId)
            // The plain rows subscribe with MaxPending 4,000,000 (wait, never drop): let the silo accept it.
            .AddBroker(o => o.MaxPendingLimit = Transports.OrleansBrokerTransport.MaxPending)
            .AddMemoryStreams(SiloRoleNames.StreamProvider)
            .AddMemoryGrainStorage("PubSubStore"));
        if (durableLog is not null)
        {
            builder.UseOrleans(silo => silo.AddBrokerRedisDurableLog(StackExchange.Redis.ConfigurationOptions.Parse(durableLog)));
        }

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
