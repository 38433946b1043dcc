using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;
using OrleansBroker.Internal;
using StackExchange.Redis;

namespace OrleansBroker.Cli;

/// <summary>An Orleans client connected to the gateways given, with the broker on it.</summary>
internal sealed class ClusterConnection : IAsyncDisposable
{
    /// <summary>How long to wait for a silo to answer before saying none does.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);

    private readonly IHost _host;

    private ClusterConnection(IHost host, ClusterBroker broker)
    {
        _host = host;
        Broker = broker;
    }

    public ClusterBroker Broker { get; }

    public static async Task<ClusterConnection> ConnectAsync(CommandLine command, CancellationToken cancellationToken)
    {
        var endpoints = new List<IPEndPoint>();
        if (command.Redis is null)
        {
            foreach (var gateway in command.Gateways)
            {
                endpoints.Add(await ResolveAsync(gateway, cancellationToken));
            }

            // The Orleans client retries a gateway that refuses connections until its timeout:
            // when none of them even accepts a TCP connection, say so at once.
            if (await FirstListeningAsync(endpoints, cancellationToken) is null)
            {
                throw new BrokerException(BrokerErrorCode.Unavailable,
                    $"no silo answers at {string.Join(", ", command.Gateways.Select(g => $"{g.Host}:{g.Port}"))}: connection refused");
            }
        }

        // No logging providers: the client speaks only through its own one-line messages.
        var host = new HostBuilder()
            .UseOrleansClient(client =>
            {
                // Gateways refuse clients of another cluster: name the silos' cluster (and service).
                client.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = command.ClusterId;
                    o.ServiceId = command.ClusterId;
                });
                if (command.Redis is { } redis)
                {
                    client.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis));
                }
                else
                {
                    client.UseStaticClustering(endpoints.ToArray());
                }
            })
            .Build();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            await host.StartAsync(timeout.Token);
        }
        catch (Exception ex)
        {
            host.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
            var where = command.Redis is { } r ? $"Redis {r} (cluster '{command.ClusterId}')" : string.Join(", ", command.Gateways.Select(g => $"{g.Host}:{g.Port}"));
            var why = ex is OperationCanceledException ? $"no answer within {ConnectTimeout.TotalSeconds:0} s" : ErrorText.FirstLine(ex.GetBaseException());
            throw new BrokerException(BrokerErrorCode.Unavailable, $"no silo answers at {where}: {why}", ex);
        }

        var broker = new ClusterBroker(host.Services.GetRequiredService<IClusterClient>());
        await broker.ConnectAsync(cancellationToken);
        return new ClusterConnection(host, broker);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Broker.DisconnectAsync();
            await _host.StopAsync(TimeSpan.FromSeconds(5));
        }
        finally
        {
            _host.Dispose();
        }
    }

    /// <summary>The first gateway that accepts a TCP connection within a few seconds, or null.</summary>
    private static async Task<IPEndPoint?> FirstListeningAsync(IReadOnlyList<IPEndPoint> endpoints, CancellationToken cancellationToken)
    {
        foreach (var endpoint in endpoints)
        {
            using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            try
            {
                await socket.ConnectAsync(endpoint, timeout.Token);
                return endpoint;
            }
            catch (Exception ex) when (ex is SocketException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // Not listening, or not answering: try the next one.
            }
        }

        return null;
    }

    private static async Task<IPEndPoint> ResolveAsync(DnsEndPoint gateway, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(gateway.Host, out var address))
        {
            return new IPEndPoint(address, gateway.Port);
        }

        try
        {
            var addresses = await Dns.GetHostAddressesAsync(gateway.Host, cancellationToken);
            var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.First();
            return new IPEndPoint(chosen, gateway.Port);
        }
        catch (Exception ex) when (ex is SocketException or InvalidOperationException)
        {
            throw new UsageException($"cannot resolve gateway host '{gateway.Host}'");
        }
    }
}
