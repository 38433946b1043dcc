using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Dashboard;

namespace OrleansBroker.Silo;

/// <summary>Turns <see cref="SiloSettings"/> into an Orleans silo with the broker on it.</summary>
internal static class SiloHosting
{
    public static void Configure(ISiloBuilder silo, SiloSettings settings, SiloTls? tls)
    {
        if (settings.UsesRedis)
        {
            var redis = settings.ParsedRedis;
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = settings.EffectiveServiceId;
            });
            silo.ConfigureEndpoints(settings.ParsedAddress, settings.SiloPort, settings.GatewayPort);
            silo.UseRedisClustering(o => o.ConfigurationOptions = redis);

            // Topic and subscription state outlives any one silo; cleared state leaves no key behind.
            silo.AddRedisGrainStorage(BrokerSiloOptions.StorageName, o =>
            {
                o.ConfigurationOptions = redis;
                o.DeleteStateOnClear = true;
            });
        }
        else
        {
            silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: settings.EffectiveServiceId, clusterId: settings.ClusterId);
        }

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
