using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
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

        // Orleans' default directory deactivates, on every silo, the grains whose registration a leaving silo held,
        // and their next activations start at once beside the old ones (see docs/failures.md). The distributed
        // directory hands its registrations over instead, so a graceful shutdown moves only the grains it hosted.
#pragma warning disable ORLEANSEXP003 // Experimental in Orleans 10.x.
        builder.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003

        // After a crash that directory would refuse, for 30 s less the failure detection, to activate again the grains
        // the dead silo had registered (in case it was alive after all): a topic's subscribers would get nothing for
        // that long. Without the lease it recovers as the default directory does, at once.
        builder.Services.Configure<GrainDirectoryOptions>(o => o.RangeLeaseDuration = TimeSpan.Zero);
        return builder;
    }

    /// <summary>
    /// Keeps the durable log in Redis or Garnet (<see cref="RedisDurableLog"/>) instead of memory,
    /// before or after <see cref="AddBroker"/>. Garnet must run Lua in its transaction mode.
    /// </summary>
    public static ISiloBuilder AddBrokerRedisDurableLog(this ISiloBuilder builder, Action<RedisDurableLogOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<RedisDurableLogOptions>()
            .Configure(configure)
            .Validate(o => o.ConfigurationOptions is not null, $"{nameof(RedisDurableLogOptions)}.{nameof(RedisDurableLogOptions.ConfigurationOptions)} must be set.")
            .ValidateOnStart();
        builder.Services.RemoveAll<IDurableLog>();
        builder.Services.AddSingleton<IDurableLog>(services =>
        {
            var options = services.GetRequiredService<IOptions<RedisDurableLogOptions>>().Value;
            var prefix = options.KeyPrefix ?? $"orleansbroker:{services.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId}:log:";
            return new RedisDurableLog(options.ConfigurationOptions!, prefix);
        });
        return builder;
    }

    /// <summary>Keeps the durable log in the Redis or Garnet that <paramref name="configuration"/> names (StackExchange.Redis syntax).</summary>
    public static ISiloBuilder AddBrokerRedisDurableLog(this ISiloBuilder builder, StackExchange.Redis.ConfigurationOptions configuration) =>
        builder.AddBrokerRedisDurableLog(o => o.ConfigurationOptions = configuration);
}
