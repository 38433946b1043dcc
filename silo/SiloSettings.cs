using System.Net;
using OrleansBroker.Internal;
using StackExchange.Redis;

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

    /// <summary>
    /// Where the single silo (Localhost clustering) keeps its store: an embedded Garnet's append-only
    /// file and checkpoints. Not set: <see cref="EffectiveDataDir"/>. Unused with Redis clustering.
    /// </summary>
    public string? DataDir { get; set; }

    /// <summary>The embedded store's port on 127.0.0.1; 0: any free port.</summary>
    public int StorePort { get; set; }

    public int GatewayPort { get; set; } = 30000;

    public string ClusterId { get; set; } = ClusterDefaults.ClusterId;

    /// <summary>Orleans' service id; the cluster id when not set (clients assume the same).</summary>
    public string? ServiceId { get; set; }

    public string EffectiveServiceId => string.IsNullOrWhiteSpace(ServiceId) ? ClusterId : ServiceId;

    public TimeSpan SubscriptionLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The largest message this silo accepts (BrokerSiloOptions.MaxMessageBytes).</summary>
    public int MaxMessageBytes { get; set; } = new BrokerSiloOptions().MaxMessageBytes;

    /// <summary>The largest MaxPending a subscription may ask for (BrokerSiloOptions.MaxPendingLimit).</summary>
    public int MaxPendingLimit { get; set; } = new BrokerSiloOptions().MaxPendingLimit;

    /// <summary>The bytes one subscription may hold on this silo (BrokerSiloOptions.MaxSubscriptionBytes).</summary>
    public long MaxSubscriptionBytes { get; set; } = new BrokerSiloOptions().MaxSubscriptionBytes;

    /// <summary>
    /// Failure detection: a silo that misses <see cref="MissedProbes"/> probes of this timeout each is
    /// declared dead and its grains move. Orleans' defaults (5 s, 3) suit most networks; shorter heals faster.
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public int MissedProbes { get; set; } = 3;

    /// <summary>The Orleans Dashboard's port on 127.0.0.1; 0 turns it off. It serves the health endpoints too.</summary>
    public int DashboardPort { get; set; } = 8080;

    /// <summary>
    /// A port of their own for the health endpoints (/health/live, /health/ready), on <see cref="Address"/>
    /// where an orchestrator's probes reach it, answering from before the silo joins its cluster.
    /// 0: none, the endpoints are on the dashboard's port only (and absent with the dashboard off).
    /// </summary>
    public int HealthPort { get; set; }

    /// <summary>
    /// This silo's certificate and private key, a PKCS#12 (.pfx) file: when set, every connection
    /// between silos and from clients to this silo's gateway is TLS. Not set: no TLS.
    /// </summary>
    public string? TlsCertificate { get; set; }

    /// <summary>The password of <see cref="TlsCertificate"/>; best given as Broker__TlsCertificatePassword in the environment. Never shown.</summary>
    public string? TlsCertificatePassword { get; set; }

    /// <summary>
    /// A PEM (or DER) file of the CA certificates, or self-signed certificates, that peers' certificates
    /// must chain to. Not set: the machine's trusted roots.
    /// </summary>
    public string? TlsCa { get; set; }

    /// <summary>Mutual TLS: refuse any client (and silo) that does not show a certificate issued under <see cref="TlsCa"/>.</summary>
    public bool TlsRequireClientCertificate { get; set; }

    public bool UsesTls => !string.IsNullOrWhiteSpace(TlsCertificate);

    public bool UsesRedis => string.Equals(Clustering, "Redis", StringComparison.OrdinalIgnoreCase);

    public IPAddress ParsedAddress => IPAddress.Parse(Address);

    /// <summary><see cref="DataDir"/>, or the user's local application data/orleansbroker/&lt;cluster id&gt;; null when neither is known.</summary>
    public string? EffectiveDataDir => string.IsNullOrWhiteSpace(DataDir) ? LocalStore.DefaultDirectory(ClusterId) : DataDir;

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

        if (!string.IsNullOrWhiteSpace(Redis) && RedisConnectionText.Problem("Broker:Redis", Redis, RedisEndpoints) is { } redisProblem)
        {
            return redisProblem;
        }

        if (!UsesTls && (TlsRequireClientCertificate || !string.IsNullOrWhiteSpace(TlsCa)))
        {
            return "Broker:TlsCa and Broker:TlsRequireClientCertificate need Broker:TlsCertificate (this silo's own certificate): TLS is off without it";
        }

        if (TlsRequireClientCertificate && string.IsNullOrWhiteSpace(TlsCa))
        {
            return "Broker:TlsRequireClientCertificate needs Broker:TlsCa: the CA whose certificates clients must show";
        }

        // Silos reach each other by address, where no host name can be checked against the machine's roots.
        if (UsesTls && UsesRedis && string.IsNullOrWhiteSpace(TlsCa))
        {
            return "Broker:TlsCertificate with Redis clustering needs Broker:TlsCa: the CA that silos check each other's certificates against";
        }

        if (!IPAddress.TryParse(Address, out _))
        {
            return $"Broker:Address must be an IP address; it is '{Address}'";
        }

        if (!UsesRedis && string.IsNullOrWhiteSpace(DataDir))
        {
            if (EffectiveDataDir is null)
            {
                return "Broker:DataDir is not set and this user has no local application data directory to keep the store under; set Broker:DataDir";
            }

            if (ClusterId is "" or "." or ".." || ClusterId.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || ClusterId.Contains('\\'))
            {
                return $"Broker:ClusterId '{ClusterId}' cannot name the default data directory; set Broker:DataDir";
            }
        }

        foreach (var (name, port, zeroAllowed) in new[] { ("SiloPort", SiloPort, false), ("GatewayPort", GatewayPort, false), ("DashboardPort", DashboardPort, true), ("HealthPort", HealthPort, true), ("StorePort", StorePort, true) })
        {
            if (port is < 0 or > 65535 || (port == 0 && !zeroAllowed))
            {
                return $"Broker:{name} must be a port number (1-65535{(zeroAllowed ? ", or 0 for none" : "")}); it is {port}";
            }
        }

        var ports = new[] { SiloPort, GatewayPort, DashboardPort, HealthPort, StorePort }.Where(p => p != 0).ToList();
        if (ports.Distinct().Count() != ports.Count)
        {
            return $"Broker:SiloPort, GatewayPort, DashboardPort, HealthPort and StorePort must differ (0 is none); they are {SiloPort}, {GatewayPort}, {DashboardPort}, {HealthPort} and {StorePort}";
        }

        if (ProbeTimeout < TimeSpan.FromMilliseconds(100) || MissedProbes < 1)
        {
            return $"Broker:ProbeTimeout must be at least 100 ms and Broker:MissedProbes at least 1; they are {ProbeTimeout} and {MissedProbes}";
        }

        if (MaxMessageBytes < 1 || MaxPendingLimit < 1 || MaxSubscriptionBytes < MaxMessageBytes)
        {
            return $"Broker:MaxMessageBytes and Broker:MaxPendingLimit must be at least 1, and Broker:MaxSubscriptionBytes at least Broker:MaxMessageBytes; they are {MaxMessageBytes}, {MaxPendingLimit} and {MaxSubscriptionBytes}";
        }

        if (SubscriptionLease < BrokerSiloOptions.MinSubscriptionLease)
        {
            return $"Broker:SubscriptionLease must be at least {BrokerSiloOptions.MinSubscriptionLease.TotalMilliseconds} ms; it is {SubscriptionLease}";
        }

        return null;
    }

    /// <summary>The parsed <see cref="Redis"/>; call only after <see cref="Problem"/> found nothing wrong.</summary>
    public ConfigurationOptions ParsedRedis => ConfigurationOptions.Parse(Redis!);

    /// <summary>One line for the log: how this silo is set up, naming no secret.</summary>
    public string Describe(LocalStore? store) =>
        $"silo {Address}:{SiloPort}, gateway {Address}:{GatewayPort}, "
        + (UsesRedis ? $"Redis clustering and storage at {RedisConnectionText.Describe(ParsedRedis.EndPoints)} (cluster '{ClusterId}')"
            : $"localhost clustering, storage in {store?.Directory} (embedded Garnet at {RedisConnectionText.Describe(store?.Connection.EndPoints ?? [])})")
        + (!UsesTls ? ", no TLS" : TlsRequireClientCertificate ? ", mutual TLS" : ", TLS")
        + (DashboardPort == 0 ? ", no dashboard" : $", dashboard http://127.0.0.1:{DashboardPort}/")
        + (HealthPort != 0 ? $", health http://{Address}:{HealthPort}/health/ready" : DashboardPort != 0 ? $", health http://127.0.0.1:{DashboardPort}/health/ready" : ", no health endpoints");

    /// <summary><paramref name="text"/> with the Redis user and password and the certificate's password hidden.</summary>
    public string Redact(string text)
    {
        text = RedisConnectionText.Redact(text, Redis ?? "");
        return string.IsNullOrEmpty(TlsCertificatePassword) ? text : text.Replace(TlsCertificatePassword, "*****", StringComparison.Ordinal);
    }

    private static IReadOnlyCollection<EndPoint> RedisEndpoints(string connectionString) => ConfigurationOptions.Parse(connectionString).EndPoints;
}
