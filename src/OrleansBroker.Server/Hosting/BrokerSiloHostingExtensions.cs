using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using OrleansBroker;
using OrleansBroker.Durable;

namespace Orleans.Hosting;

/// <summary>Adds the broker's grains to a silo.</summary>
public static class BrokerSiloHostingExtensions
{
    // One in-memory log per process, so every silo of an in-process cluster (a TestCluster) sees the
    // same one, as the silos of a real cluster share their store's.
    private static readonly MemoryDurableLog ProcessLog = new();

    /// <summary>
    /// Adds the broker: its options and, unless a grain storage named
    /// <see cref="BrokerSiloOptions.StorageName"/> is registered already, in-memory storage under that name;
    /// unless an <see cref="IDurableLog"/> is registered already, the in-memory <see cref="MemoryDurableLog"/>
    /// (one per process, shared by the silos it hosts).
    /// </summary>
    public static ISiloBuilder AddBroker(this ISiloBuilder builder, Action<BrokerSiloOptions>? configure = null)
    {
        var options = builder.Services.AddOptions<BrokerSiloOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        builder.Services.AddSingleton<IValidateOptions<BrokerSiloOptions>, BrokerSiloOptionsValidator>();
        var hasStorage = builder.Services.Any(d => d.IsKeyedService && d.ServiceType == typeof(IGrainStorage)
            && Equals(d.ServiceKey, BrokerSiloOptions.StorageName));
        if (!hasStorage)
        {
            builder.AddMemoryGrainStorage(BrokerSiloOptions.StorageName);
        }

        builder.Services.TryAddSingleton<IDurableLog>(ProcessLog);
        return builder;
    }
}
