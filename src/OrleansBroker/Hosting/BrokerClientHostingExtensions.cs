using Microsoft.Extensions.DependencyInjection;
using OrleansBroker;

namespace Orleans.Hosting;

/// <summary>Hosts a <see cref="ClusterBroker"/> in an Orleans client's services.</summary>
public static class BrokerClientHostingExtensions
{
    /// <summary>
    /// Registers one <see cref="ClusterBroker"/> as <see cref="IBroker"/> and <see cref="IBrokerAdmin"/>,
    /// built on the registered <see cref="IClusterClient"/>. Call <see cref="IBroker.ConnectAsync"/> before use.
    /// </summary>
    public static IServiceCollection AddClusterBroker(this IServiceCollection services, Action<BrokerOptions>? configure = null)
    {
        var options = new BrokerOptions();
        configure?.Invoke(options);
        services.AddSingleton(sp => new ClusterBroker(sp.GetRequiredService<IClusterClient>(), options));
        services.AddSingleton<IBroker>(sp => sp.GetRequiredService<ClusterBroker>());
        services.AddSingleton<IBrokerAdmin>(sp => sp.GetRequiredService<ClusterBroker>());
        return services;
    }

    /// <inheritdoc cref="AddClusterBroker(IServiceCollection, Action{BrokerOptions}?)"/>
    public static IClientBuilder AddClusterBroker(this IClientBuilder builder, Action<BrokerOptions>? configure = null)
    {
        builder.Services.AddClusterBroker(configure);
        return builder;
    }
}
