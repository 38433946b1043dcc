using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace OrleansBroker.Internal;

/// <summary>
/// Accepts a peer's certificate only when it chains to one of the configured roots (a private CA,
/// or a self-signed certificate trusted as itself), ignoring the machine's trusted roots. Host
/// names are not checked: silos are reached by address, so the CA is the boundary of the cluster.
/// </summary>
internal sealed class CertificateTrust(X509Certificate2Collection roots)
{
    public X509Certificate2Collection Roots { get; } = roots;

    /// <summary>Orleans' RemoteCertificateValidation: true only for a certificate issued under <see cref="Roots"/>.</summary>
    public bool Validate(X509Certificate2 certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(Roots);

        // A private CA publishes no revocation list; without this every chain would fail to build.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;

        // Intermediates the peer sent with its certificate.
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return chain.Build(certificate);
    }
}
