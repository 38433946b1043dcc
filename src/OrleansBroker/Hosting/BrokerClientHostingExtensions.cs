using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker;
using OrleansBroker.Internal;

namespace Orleans.Hosting;

/// <summary>Hosts a <see cref="ClusterBroker"/> in an Orleans client's services.</summary>
public static class BrokerClientHostingExtensions
{
    /// <summary>
    /// Registers one <see cref="ClusterBroker"/> as <see cref="IBroker"/> and <see cref="IBrokerAdmin"/>,
    /// built on the registered <see cref="IClusterClient"/> with the <see cref="BrokerOptions"/> of
    /// <c>IOptions&lt;BrokerOptions&gt;</c>, validated when the host starts. Call
    /// <see cref="IBroker.ConnectAsync"/> before use.
    /// </summary>
    /// <param name="services">The client's services.</param>
    /// <param name="configure">Sets options in code; null: the defaults, or what other registrations of <c>BrokerOptions</c> set.</param>
    public static IServiceCollection AddClusterBroker(this IServiceCollection services, Action<BrokerOptions>? configure = null)
    {
        var options = AddClusterBrokerServices(services);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        return services;
    }

    /// <summary>
    /// As <see cref="AddClusterBroker(IServiceCollection, Action{BrokerOptions}?)"/>, with the options bound
    /// from <paramref name="configuration"/> (e.g. <c>configuration.GetSection("OrleansBroker")</c>, whose
    /// <c>MaxMessageBytes</c> key sets <see cref="BrokerOptions.MaxMessageBytes"/>), then <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The client's services.</param>
    /// <param name="configuration">The section holding the <see cref="BrokerOptions"/> keys.</param>
    /// <param name="configure">Sets options in code after the binding, e.g. <see cref="BrokerOptions.ErrorHandler"/>.</param>
    public static IServiceCollection AddClusterBroker(this IServiceCollection services, IConfiguration configuration,
        Action<BrokerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = AddClusterBrokerServices(services).Bind(configuration);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        return services;
    }

    /// <inheritdoc cref="AddClusterBroker(IServiceCollection, Action{BrokerOptions}?)"/>
    /// <param name="builder">The Orleans client's builder.</param>
    /// <param name="configure">Sets options in code; null: the defaults.</param>
    public static IClientBuilder AddClusterBroker(this IClientBuilder builder, Action<BrokerOptions>? configure = null)
    {
        builder.Services.AddClusterBroker(configure);
        return builder;
    }

    /// <inheritdoc cref="AddClusterBroker(IServiceCollection, IConfiguration, Action{BrokerOptions}?)"/>
    /// <param name="builder">The Orleans client's builder.</param>
    /// <param name="configuration">The section holding the <see cref="BrokerOptions"/> keys.</param>
    /// <param name="configure">Sets options in code after the binding.</param>
    public static IClientBuilder AddClusterBroker(this IClientBuilder builder, IConfiguration configuration,
        Action<BrokerOptions>? configure = null)
    {
        builder.Services.AddClusterBroker(configuration, configure);
        return builder;
    }

    // Shared by every overload; Try* so that calling two of them still registers one broker.
    private static OptionsBuilder<BrokerOptions> AddClusterBrokerServices(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BrokerOptions>, BrokerOptionsValidator>());
        services.TryAddSingleton(sp => new ClusterBroker(
            sp.GetRequiredService<IClusterClient>(),
            sp.GetRequiredService<IOptions<BrokerOptions>>().Value,
            sp.GetService<ILoggerFactory>()));
        services.TryAddSingleton<IBroker>(sp => sp.GetRequiredService<ClusterBroker>());
        services.TryAddSingleton<IBrokerAdmin>(sp => sp.GetRequiredService<ClusterBroker>());
        return services.AddOptions<BrokerOptions>().ValidateOnStart();
    }
}
