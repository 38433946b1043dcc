using System.Net;
using OrleansBroker.Internal;

namespace OrleansBroker.Cli;

/// <summary>Where and how the client reaches the cluster: what the options every command shares say.</summary>
internal sealed record ConnectionSettings
{
    /// <summary>The gateways to connect to; ignored when <see cref="Redis"/> is set.</summary>
    public IReadOnlyList<DnsEndPoint> Gateways { get; init; } = [new DnsEndPoint("localhost", 30000)];

    /// <summary>Find the cluster through Redis membership at this connection string instead of fixed gateways.</summary>
    public string? Redis { get; init; }

    public string ClusterId { get; init; } = ClusterDefaults.ClusterId;

    /// <summary>Connect to the gateways over TLS; set by any of the TLS options.</summary>
    public bool Tls { get; init; }

    /// <summary>The client's own certificate and key (PKCS#12), for silos that require one.</summary>
    public string? TlsCertificate { get; init; }

    /// <summary>The password of <see cref="TlsCertificate"/>. Never shown.</summary>
    public string? TlsCertificatePassword { get; init; }

    /// <summary>The CA (or self-signed) certificates the silos' certificates must chain to; null: the system's roots and the gateway's host name.</summary>
    public string? TlsCa { get; init; }

    /// <summary><paramref name="text"/> with the Redis user and password and the certificate's password hidden.</summary>
    public string Redact(string text)
    {
        text = RedisConnectionText.Redact(text, Redis ?? "");
        return string.IsNullOrEmpty(TlsCertificatePassword) ? text : text.Replace(TlsCertificatePassword, "*****", StringComparison.Ordinal);
    }

    /// <summary>The gateways and cluster only: a record would print every property, passwords included.</summary>
    public override string ToString() =>
        $"{nameof(ConnectionSettings)} {{ Gateways = {string.Join(", ", Gateways.Select(g => $"{g.Host}:{g.Port}"))}, Redis = {(Redis is null ? "no" : "yes")}, ClusterId = {ClusterId}, Tls = {Tls} }}";
}
