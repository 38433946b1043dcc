using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
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

    // Gateways that accept connections and then end them: more than one try, so a silo that is
    // just stopping is not mistaken for one that refuses this client.
    private const int RefusalsBeforeGivingUp = 2;

    private readonly IHost _host;

    private ClusterConnection(IHost host, ClusterBroker broker)
    {
        _host = host;
        Broker = broker;
    }

    public ClusterBroker Broker { get; }

    /// <param name="configure">Anything more the command wants of the Orleans client.</param>
    public static async Task<ClusterConnection> ConnectAsync(ConnectionSettings command, ClientTls? tls, Action<IClientBuilder>? configure, CancellationToken cancellationToken)
    {
        var endpoints = new List<IPEndPoint>();
        var hostNames = new Dictionary<IPEndPoint, string>();
        if (command.Redis is null)
        {
            foreach (var gateway in command.Gateways)
            {
                var endpoint = await ResolveAsync(gateway, cancellationToken);
                endpoints.Add(endpoint);
                hostNames.TryAdd(endpoint, gateway.Host);
            }

            // The Orleans client retries a gateway that refuses connections until its timeout:
            // when none of them even accepts a TCP connection, say so at once.
            if (await FirstListeningAsync(endpoints, cancellationToken) is null)
            {
                throw new BrokerException(BrokerErrorCode.Unavailable,
                    $"no silo answers at {string.Join(", ", command.Gateways.Select(g => $"{g.Host}:{g.Port}"))}: connection refused");
            }
        }

        // No logging providers but the watch: the client speaks only through its own one-line messages.
        var refusals = new ConnectionRefusalWatch(RefusalsBeforeGivingUp);
        var host = new HostBuilder()
            .ConfigureLogging(logging => logging.AddProvider(refusals))
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

                tls?.Apply(client, hostNames);
                ClientTelemetry.AddTo(client);
                configure?.Invoke(client);
            })
            .Build();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        string? refused = null;
        try
        {
            var start = host.StartAsync(timeout.Token);
            if (await Task.WhenAny(start, refusals.GaveUp) != start)
            {
                refused = RefusalText(await refusals.GaveUp, tls);
                await timeout.CancelAsync();
            }

            await start;
        }
        catch (Exception ex)
        {
            host.Dispose();
            cancellationToken.ThrowIfCancellationRequested();

            // The Redis endpoints only: the connection string may hold a password.
            var where = command.Redis is { } r
                ? $"Redis {RedisConnectionText.Describe(ConfigurationOptions.Parse(r).EndPoints)} (cluster '{command.ClusterId}')"
                : string.Join(", ", command.Gateways.Select(g => $"{g.Host}:{g.Port}"));
            var why = refused
                ?? (ex is OperationCanceledException ? $"no answer within {ConnectTimeout.TotalSeconds:0} s" : command.Redact(ErrorText.FirstLine(ex.GetBaseException())));
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

    /// <summary>
    /// Why the gateways keep ending the connection, for people: TLS on one side or the other, or a
    /// cluster id that is not the silo's, which looks the same from here.
    /// </summary>
    private static string RefusalText(string? tlsFailure, ClientTls? tls) => (tlsFailure, tls) switch
    {
        ({ } failure, { Trust: null }) => $"TLS handshake failed ({failure}): is the silo's certificate trusted by this machine and issued for the gateway's host name? --tls-ca FILE trusts its CA",
        ({ } failure, _) => $"TLS handshake failed ({failure}): does the silo's certificate chain to --tls-ca?",
        (null, { Certificate: null }) => "the silo ended the connection after the TLS handshake: does it require a client certificate (--tls-cert FILE), or belong to another cluster (--cluster-id)?",
        (null, { }) => "the silo ended the connection after the TLS handshake: does it not trust this client's certificate, or belong to another cluster (--cluster-id)?",
        (null, null) => "the gateway ended the connection: does the silo require TLS (--tls-ca FILE), or belong to another cluster (--cluster-id)?",
    };

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
