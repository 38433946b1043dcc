using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Hosting;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Options;

/// <summary>AddClusterBroker: BrokerOptions bound from configuration through AddOptions, then code, validated at start-up.</summary>
[Collection(ClusterCollection.Name)]
public sealed class AddClusterBrokerTests(ClusterFixture fixture)
{
    private static IConfiguration Section(string maxMessageBytes) => new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?> { ["OrleansBroker:MaxMessageBytes"] = maxMessageBytes })
        .Build()
        .GetSection("OrleansBroker");

    [Fact]
    public async Task ConfigurationSection_IsBound_IntoTheRegisteredBroker()
    {
        var services = new ServiceCollection();
        // The test cluster's client is registered as an instance, so disposing the provider leaves it running.
        services.AddSingleton<IClusterClient>(fixture.Cluster.Client);
        services.AddClusterBroker(Section("2048"));
        await using var provider = services.BuildServiceProvider();

        var broker = provider.GetRequiredService<IBroker>();

        Assert.IsType<ClusterBroker>(broker);
        Assert.Equal(2048, broker.Options.MaxMessageBytes);
        Assert.Same(broker, provider.GetRequiredService<IBrokerAdmin>());
        Assert.Same(broker, provider.GetRequiredService<ClusterBroker>());
    }

    [Fact]
    public async Task Configure_RunsAfterTheBinding()
    {
        MessageHandler errorHandler = (_, _) => Task.CompletedTask;
        var services = new ServiceCollection();
        services.AddClusterBroker(Section("2048"), o =>
        {
            o.MaxMessageBytes *= 2;
            o.ErrorHandler = errorHandler;
        });
        await using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<BrokerOptions>>().Value;

        Assert.Equal(4096, options.MaxMessageBytes);
        Assert.Same(errorHandler, options.ErrorHandler);
    }

    [Fact]
    public async Task ClientBuilder_BindsTheSameWay()
    {
        var builder = new TestClientBuilder(new ServiceCollection());
        builder.AddClusterBroker(Section("512"));
        await using var provider = builder.Services.BuildServiceProvider();

        Assert.Equal(512, provider.GetRequiredService<IOptions<BrokerOptions>>().Value.MaxMessageBytes);
    }

    [Fact]
    public async Task ConfiguredMaxMessageBytesUnderOne_FailsTheStartUp_NamingTheSetting()
    {
        var services = new ServiceCollection();
        services.AddClusterBroker(Section("0"));
        await using var provider = services.BuildServiceProvider();

        // What the generic host runs when it starts, because AddClusterBroker asked for ValidateOnStart.
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("BrokerOptions.MaxMessageBytes must be at least 1; it is 0.", error.Message);
    }

    [Fact]
    public async Task MaxMessageBytesUnderOneSetInCode_FailsTheStartUp()
    {
        var services = new ServiceCollection();
        services.AddClusterBroker(o => o.MaxMessageBytes = -5);
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("BrokerOptions.MaxMessageBytes must be at least 1; it is -5.", error.Message);
    }

    private sealed class TestClientBuilder(IServiceCollection services) : IClientBuilder
    {
        public IServiceCollection Services { get; } = services;

        public IConfiguration Configuration { get; } = new ConfigurationBuilder().Build();
    }
}
