using System.Net;

namespace OrleansBroker.Silo;

/// <summary>The "Broker" configuration section: from appsettings.json, Broker__* environment variables or the command line.</summary>
internal sealed class SiloSettings
{
    /// <summary>"Localhost" (one machine, no other server) or "Redis" (Redis membership and Redis grain storage).</summary>
    public string Clustering { get; set; } = "Localhost";

    /// <summary>The Redis connection string (StackExchange.Redis syntax), when <see cref="Clustering"/> is Redis.</summary>
    public string? Redis { get; set; }

    /// <summary>The address other silos and clients reach this silo at; with Redis clustering, this machine's address on the cluster's network.</summary>
    public string Address { get; set; } = "127.0.0.1";

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    public string ClusterId { get; set; } = "orleansbroker";

    /// <summary>Orleans' service id; the cluster id when not set (clients assume the same).</summary>
    public string? ServiceId { get; set; }

    public string EffectiveServiceId => string.IsNullOrWhiteSpace(ServiceId) ? ClusterId : ServiceId;

    public TimeSpan SubscriptionLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Failure detection: a silo that misses <see cref="MissedProbes"/> probes of this timeout each is
    /// declared dead and its grains move. Orleans' defaults (5 s, 3) suit most networks; shorter heals faster.
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public int MissedProbes { get; set; } = 3;

    /// <summary>The Orleans Dashboard's port on 127.0.0.1; 0 turns it off.</summary>
    public int DashboardPort { get; set; } = 8080;

    public bool UsesRedis => string.Equals(Clustering, "Redis", StringComparison.OrdinalIgnoreCase);

    public IPAddress ParsedAddress => IPAddress.Parse(Address);

    /// <summary>The first thing wrong with the settings, or null.</summary>
    public string? Problem()
    {
        if (!UsesRedis && !string.Equals(Clustering, "Localhost", StringComparison.OrdinalIgnoreCase))
        {
            return $"Broker:Clustering must be Localhost or Redis; it is '{Clustering}'";
        }

        if (UsesRedis && string.IsNullOrWhiteSpace(Redis))
        {
            return "Broker:Clustering is Redis but Broker:Redis (the connection string) is not set";
        }

        if (!IPAddress.TryParse(Address, out _))
        {
            return $"Broker:Address must be an IP address; it is '{Address}'";
        }

        foreach (var (name, port, zeroAllowed) in new[] { ("SiloPort", SiloPort, false), ("GatewayPort", GatewayPort, false), ("DashboardPort", DashboardPort, true) })
        {
            if (port is < 0 or > 65535 || (port == 0 && !zeroAllowed))
            {
                return $"Broker:{name} must be a port number (1-65535{(zeroAllowed ? ", or 0 for none" : "")}); it is {port}";
            }
        }

        if (new[] { SiloPort, GatewayPort, DashboardPort }.Where(p => p != 0).Distinct().Count() != (DashboardPort == 0 ? 2 : 3))
        {
            return $"Broker:SiloPort, GatewayPort and DashboardPort must differ; they are {SiloPort}, {GatewayPort} and {DashboardPort}";
        }

        if (ProbeTimeout < TimeSpan.FromMilliseconds(100) || MissedProbes < 1)
        {
            return $"Broker:ProbeTimeout must be at least 100 ms and Broker:MissedProbes at least 1; they are {ProbeTimeout} and {MissedProbes}";
        }

        if (SubscriptionLease < TimeSpan.FromMilliseconds(100))
        {
            return $"Broker:SubscriptionLease must be at least 100 ms; it is {SubscriptionLease}";
        }

        return null;
    }

    /// <summary>One line for the log: how this silo is set up.</summary>
    public string Describe() =>
        $"silo {Address}:{SiloPort}, gateway {Address}:{GatewayPort}, "
        + (UsesRedis ? $"Redis clustering and storage (cluster '{ClusterId}')" : "localhost clustering, in-memory storage")
        + (DashboardPort == 0 ? ", no dashboard" : $", dashboard http://127.0.0.1:{DashboardPort}/");
}
