using OrleansBroker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Processes;

/// <summary>
/// The crash users get out of the box: four silo processes with the silo's default failure detection (5 s probes,
/// 3 missed) and lease, and a kill -9 of the silo hosting a topic that is being published to at 100 msg/s.
/// Publishes wait out the detection instead of failing: none is refused (each is sent again until the topic's new
/// activation takes it, within <see cref="BrokerOptions.PublishTimeout"/>), and none is delivered twice.
/// </summary>
public sealed class DefaultFailureDetectionTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Rate = 100;
    private const int Seconds = 40;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(15);

    private ProcessCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ProcessCluster.StartAsync(4, [], output);

    public Task DisposeAsync()
    {
        _cluster?.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task KillingTheTopicsSilo_RefusesNoPublish_AndDeliversNoneTwice()
    {
        var run = await PublishThroughFailure.RunAsync(_cluster, "defaultcrash", silo => silo.Kill(), killTopicHost: true, Rate, Seconds, Settle, output);
        Assert.Equal(0, run.Failed);
        Assert.Equal(0, run.Duplicates);
        Assert.True(run.ReceivedAfterHeal > 0, "delivery resumed");
        Assert.True(run.LongestPublish < new BrokerOptions().PublishTimeout, $"the longest publish took {run.LongestPublish}");
    }
}
