using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Hosting;
using StackExchange.Redis;

namespace OrleansBroker.Silo;

/// <summary>Turns <see cref="SiloSettings"/> into an Orleans silo with the broker on it.</summary>
internal static class SiloHosting
{
    /// <param name="localStore">With localhost clustering, the embedded store that keeps the broker's state and durable log.</param>
    public static void Configure(ISiloBuilder silo, SiloSettings settings, SiloTls? tls, ConfigurationOptions? localStore)
    {
        // Topic and subscription state, and the durable log, in the cluster's Redis or the single silo's Garnet.
        var store = settings.UsesRedis ? settings.ParsedRedis : localStore ?? throw new ArgumentNullException(nameof(localStore));
        if (settings.UsesRedis)
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = settings.EffectiveServiceId;
            });
            silo.ConfigureEndpoints(settings.ParsedAddress, settings.SiloPort, settings.GatewayPort);
            silo.UseRedisClustering(o => o.ConfigurationOptions = store);
        }
        else
        {
            silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: settings.EffectiveServiceId, clusterId: settings.ClusterId);
        }

        // State outlives any one silo (or, alone, its restart); cleared state leaves no key behind.
        silo.AddRedisGrainStorage(BrokerSiloOptions.StorageName, o =>
        {
            o.ConfigurationOptions = store;
            o.DeleteStateOnClear = true;
        });
        silo.AddBrokerRedisDurableLog(store);
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = settings.ProbeTimeout;
            o.NumMissedProbesLimit = settings.MissedProbes;
        });
        tls?.Apply(silo);
        silo.AddBroker(o =>
        {
            o.SubscriptionLease = settings.SubscriptionLease;
            o.MaxMessageBytes = settings.MaxMessageBytes;
            o.MaxPendingLimit = settings.MaxPendingLimit;
            o.MaxSubscriptionBytes = settings.MaxSubscriptionBytes;
        });
        if (settings.DashboardPort != 0)
        {
            silo.AddDashboard();
        }
    }
}
