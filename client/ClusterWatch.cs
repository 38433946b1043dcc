using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Hosting;
using Orleans.Runtime;

namespace OrleansBroker.Cli;

/// <summary>
/// Tells the user when the client loses the cluster and when it has it back: once each per outage.
/// Orleans reports every gateway connection that opens and closes, and around a silo's restart a
/// connection can open and close again before the new silo takes clients, so those events alone
/// flicker. Here "lost" is said when the last gateway connection closes while the cluster was
/// there, and "back" only when a call to the cluster has succeeded with no connection lost during
/// it; events in between say nothing.
/// </summary>
internal sealed class ClusterWatch : IClusterConnectionStatusObserver, IDisposable
{
    public const string LostLine = "lost the connection to the cluster; waiting for it to come back";
    public const string BackLine = "connected to the cluster again";

    private readonly TextWriter _output;
    private readonly Func<CancellationToken, Task> _probe;
    private readonly TimeSpan _retryInterval;
    private readonly CancellationTokenSource _stopping;
    private readonly Lock _lock = new();
    private bool _lost;
    private long _losses;

    /// <param name="output">Where the two lines go.</param>
    /// <param name="probe">A call that completes only when the cluster answers.</param>
    /// <param name="retryInterval">The pause between failed probes.</param>
    /// <param name="stopping">Cancelled when the client is shutting down: its own connections closing are no outage.</param>
    public ClusterWatch(TextWriter output, Func<CancellationToken, Task> probe, TimeSpan retryInterval, CancellationToken stopping)
    {
        _output = output;
        _probe = probe;
        _retryInterval = retryInterval;
        _stopping = CancellationTokenSource.CreateLinkedTokenSource(stopping);
    }

    /// <summary>Watches the client <paramref name="client"/> builds, saying what happens on <paramref name="output"/>.</summary>
    public static void AddTo(IClientBuilder client, TextWriter output) =>
        client.Services.AddSingleton<IClusterConnectionStatusObserver>(services => new ClusterWatch(
            output,
            cancellationToken => AnyActiveSiloAsync(services.GetRequiredService<IClusterClient>(), cancellationToken),
            TimeSpan.FromSeconds(1),
            services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping));

    public void NotifyClusterConnectionLost()
    {
        lock (_lock)
        {
            _losses++;
            if (_lost || _stopping.IsCancellationRequested)
            {
                return;
            }

            _lost = true;
        }

        _output.WriteLine(LostLine);
        _ = ProbeUntilBackAsync();
    }

    /// <summary>Nothing to do: a gateway connection that opens proves nothing until a call goes through it.</summary>
    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task ProbeUntilBackAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            long lossesBefore;
            lock (_lock)
            {
                lossesBefore = _losses;
            }

            try
            {
                await _probe(stopping);
                bool back;
                lock (_lock)
                {
                    // A connection lost while the call was out may have come and gone: try again.
                    back = _losses == lossesBefore && !stopping.IsCancellationRequested;
                    _lost = !back;
                }

                if (back)
                {
                    _output.WriteLine(BackLine);
                    return;
                }
            }
            catch (Exception) when (!stopping.IsCancellationRequested)
            {
                // The cluster is still away: the next try says more.
            }
            catch (Exception)
            {
                return;
            }

            try
            {
                await Task.Delay(_retryInterval, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>A cheap call that only a joined, active silo answers.</summary>
    private static async Task AnyActiveSiloAsync(IClusterClient client, CancellationToken cancellationToken)
    {
        var hosts = await client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
        if (hosts.Count == 0)
        {
            throw new InvalidOperationException("No active silo yet.");
        }
    }
}
