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
    /// <summary>
    /// Adds the broker: its options and, unless a grain storage named
    /// <see cref="BrokerSiloOptions.StorageName"/> is registered already, in-memory storage under that name;
    /// unless an <see cref="IDurableLog"/> is registered already, the in-memory <see cref="MemoryDurableLog"/>.
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

        builder.Services.TryAddSingleton<IDurableLog, MemoryDurableLog>();
        return builder;
    }
}
