using OrleansBroker.Cli;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Unit;

/// <summary>The client's "lost" and "back" lines: once each per outage, however Orleans' connection events flicker.</summary>
public sealed class ClusterWatchTests
{
    private readonly StringWriter _output = new();
    private readonly TextWriter _synchronized;
    private int _probes;
    private volatile bool _clusterAnswers;

    public ClusterWatchTests() => _synchronized = TextWriter.Synchronized(_output);

    private string[] Lines
    {
        get
        {
            // The synchronized writer locks itself while writing: take the same lock to read.
            lock (_synchronized)
            {
                return _output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
            }
        }
    }

    [Fact]
    public async Task FlickeringConnections_SayLostOnce_AndBackOnceACallGoesThrough()
    {
        using var watch = Watch(Probe, CancellationToken.None);
        watch.NotifyClusterConnectionLost();
        watch.NotifyGatewayCountChanged(0, 1, connectionRecovered: false);

        // A restarting silo: connections open and close again before it takes calls.
        for (var i = 0; i < 5; i++)
        {
            watch.NotifyGatewayCountChanged(1, 0, connectionRecovered: true);
            watch.NotifyClusterConnectionLost();
            watch.NotifyGatewayCountChanged(0, 1, connectionRecovered: false);
        }

        await Eventually.WaitUntil(() => Volatile.Read(ref _probes) >= 3, "a few failed probes");
        Assert.Equal([ClusterWatch.LostLine], Lines);

        _clusterAnswers = true;
        await Eventually.WaitUntil(() => Lines.Length == 2, "the cluster to be back");
        Assert.Equal([ClusterWatch.LostLine, ClusterWatch.BackLine], Lines);

        // A later outage is a new one, said again.
        _clusterAnswers = false;
        watch.NotifyClusterConnectionLost();
        _clusterAnswers = true;
        await Eventually.WaitUntil(() => Lines.Length == 4, "the second outage to end");
        Assert.Equal([ClusterWatch.LostLine, ClusterWatch.BackLine, ClusterWatch.LostLine, ClusterWatch.BackLine], Lines);
    }

    [Fact]
    public async Task ACallThatSucceeds_WhileTheConnectionIsLostAgain_DoesNotSayBack()
    {
        var firstCall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        using var watch = Watch(_ => Interlocked.Increment(ref calls) == 1 ? firstCall.Task : Task.CompletedTask, CancellationToken.None);
        watch.NotifyClusterConnectionLost();
        await Eventually.WaitUntil(() => Volatile.Read(ref calls) == 1, "the first probe");

        watch.NotifyClusterConnectionLost();
        firstCall.SetResult();
        await Eventually.WaitUntil(() => Lines.Length == 2, "the cluster to be back");
        Assert.Equal(2, Volatile.Read(ref calls));
        Assert.Equal([ClusterWatch.LostLine, ClusterWatch.BackLine], Lines);
    }

    [Fact]
    public void TheClientsOwnShutdown_IsNoOutage()
    {
        using var stopping = new CancellationTokenSource();
        using var watch = Watch(Probe, stopping.Token);
        stopping.Cancel();
        watch.NotifyClusterConnectionLost();
        Assert.Empty(Lines);
    }

    private ClusterWatch Watch(Func<CancellationToken, Task> probe, CancellationToken stopping) =>
        new(_synchronized, probe, TimeSpan.FromMilliseconds(10), stopping);

    private Task Probe(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _probes);
        return _clusterAnswers ? Task.CompletedTask : Task.FromException(new TimeoutException("no silo"));
    }
}
