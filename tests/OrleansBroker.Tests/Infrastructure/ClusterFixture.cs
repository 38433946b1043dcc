using Orleans.Hosting;
using Orleans.TestingHost;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>A TestCluster shared by a collection of tests, its silos configured by <typeparamref name="TConfigurator"/>.</summary>
public abstract class ClusterFixture<TConfigurator>(int silos) : IAsyncLifetime
    where TConfigurator : ISiloConfigurator, new()
{
    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder((short)silos);
        builder.AddSiloBuilderConfigurator<TConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}

/// <summary>A two-silo TestCluster configured with nothing but AddBroker(), shared by the cluster tests.</summary>
public sealed class ClusterFixture() : ClusterFixture<ClusterFixture.SiloConfigurator>(2)
{
    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder.AddBroker();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
