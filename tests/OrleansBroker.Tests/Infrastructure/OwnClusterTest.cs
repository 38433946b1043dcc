using Orleans.TestingHost;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A test class with a TestCluster of its own, its silos configured by <typeparamref name="TConfigurator"/>:
/// for tests that bend a silo (a call filter, a stalled store, short leases) the shared cluster must not see.
/// </summary>
public abstract class OwnClusterTest<TConfigurator> : IAsyncLifetime
    where TConfigurator : ISiloConfigurator, new()
{
    protected TestCluster Cluster { get; private set; } = null!;

    /// <summary>The silos the cluster starts with: one, unless a test kills some.</summary>
    protected virtual short InitialSilos => 1;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(InitialSilos);
        builder.AddSiloBuilderConfigurator<TConfigurator>();
        Configure(builder);
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        // Whatever a test held back is let go first, so the silos can stop.
        BeforeDispose();
        await Cluster.DisposeAsync();
    }

    protected virtual void BeforeDispose()
    {
    }

    /// <summary>Anything else the test's cluster needs (its client's configuration).</summary>
    protected virtual void Configure(TestClusterBuilder builder)
    {
    }
}
