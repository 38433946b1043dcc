using System.Net;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;
using Orleans.Hosting;
using OrleansBroker.Internal;

namespace OrleansBroker.Cli;

/// <summary>The client's TLS to the gateways: the silo's certificate checked, this client's own shown when it has one.</summary>
internal sealed class ClientTls
{
    private ClientTls(X509Certificate2? certificate, CertificateTrust? trust)
    {
        Certificate = certificate;
        Trust = trust;
    }

    /// <summary>Shown to silos that ask for a client certificate; null: none.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>The roots a silo's certificate must chain to; null: the system's roots and the gateway's host name.</summary>
    public CertificateTrust? Trust { get; }

    /// <summary>The TLS that <paramref name="command"/> asks for, or null when it asks for none.</summary>
    /// <exception cref="CertificateFileException">A file named cannot be used.</exception>
    public static ClientTls? Load(ConnectionSettings command)
    {
        if (!command.Tls)
        {
            return null;
        }

        var now = DateTimeOffset.UtcNow;
        var certificate = command.TlsCertificate is { } path
            ? CertificateFiles.LoadIdentity("--tls-cert", path, command.TlsCertificatePassword, server: false, now)
            : null;
        var trust = command.TlsCa is { } ca ? new CertificateTrust(CertificateFiles.LoadTrusted("--tls-ca", ca, now)) : null;
        return new ClientTls(certificate, trust);
    }

    /// <param name="client">The client to configure.</param>
    /// <param name="hostNames">The host name each gateway address was given as, checked against the silo's certificate when there is no <see cref="Trust"/>.</param>
    public void Apply(IClientBuilder client, IReadOnlyDictionary<IPEndPoint, string> hostNames) =>
        client.UseTls(options =>
        {
            options.LocalCertificate = Certificate;
            options.ClientCertificateMode = Certificate is null ? RemoteCertificateMode.NoCertificate : RemoteCertificateMode.RequireCertificate;
            options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            if (Trust is not null)
            {
                options.RemoteCertificateValidation = Trust.Validate;
            }
            else
            {
                // Against the system's roots a certificate proves only whom it names: check that name.
                options.OnAuthenticateAsClient = (connection, authentication) =>
                {
                    if (connection.RemoteEndPoint is IPEndPoint endpoint && hostNames.TryGetValue(endpoint, out var host))
                    {
                        authentication.TargetHost = host;
                    }
                };
            }
        });
}
