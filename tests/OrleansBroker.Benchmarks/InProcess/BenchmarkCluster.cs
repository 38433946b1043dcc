using Orleans.Hosting;
using Orleans.TestingHost;

namespace OrleansBroker.Benchmarks.InProcess;

/// <summary>One in-process TestCluster silo hosting both the broker and Orleans memory streams: the two measured on the same silo, in one process.</summary>
internal static class BenchmarkCluster
{
    public const string StreamProvider = Roles.SiloRoleNames.StreamProvider;

    public static async Task<TestCluster> StartAsync(bool tcp)
    {
        var builder = new TestClusterBuilder(1);
        if (tcp)
        {
            builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;
        }

        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder
            .AddBroker()
            .AddMemoryStreams(StreamProvider)
            .AddMemoryGrainStorage("PubSubStore");
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.AddMemoryStreams(StreamProvider);
    }
}
