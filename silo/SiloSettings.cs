namespace OrleansBroker.Silo;

/// <summary>The "Broker" configuration section: from appsettings.json, Broker__* environment variables or the command line.</summary>
internal sealed class SiloSettings
{
    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    public TimeSpan SubscriptionLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The first thing wrong with the settings, or null.</summary>
    public string? Problem()
    {
        if (SiloPort is < 1 or > 65535)
        {
            return $"Broker:SiloPort must be a port number (1-65535); it is {SiloPort}";
        }

        if (GatewayPort is < 1 or > 65535)
        {
            return $"Broker:GatewayPort must be a port number (1-65535); it is {GatewayPort}";
        }

        return SiloPort == GatewayPort ? $"Broker:SiloPort and Broker:GatewayPort must differ; both are {SiloPort}" : null;
    }
}
