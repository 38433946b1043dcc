using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;
using Orleans.Hosting;
using OrleansBroker.Internal;

namespace OrleansBroker.Silo;

/// <summary>The silo's TLS, loaded from the files its settings name: on silo-to-silo and gateway connections alike.</summary>
internal sealed class SiloTls
{
    private SiloTls(X509Certificate2 certificate, CertificateTrust? trust, bool requireClientCertificate)
    {
        Certificate = certificate;
        Trust = trust;
        RequireClientCertificate = requireClientCertificate;
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>The roots peers must chain to; null: the machine's trusted roots.</summary>
    public CertificateTrust? Trust { get; }

    public bool RequireClientCertificate { get; }

    /// <summary>The TLS that <paramref name="settings"/> ask for, or null when they ask for none.</summary>
    /// <exception cref="CertificateFileException">A file named cannot be used.</exception>
    public static SiloTls? Load(SiloSettings settings)
    {
        if (!settings.UsesTls)
        {
            return null;
        }

        var now = DateTimeOffset.UtcNow;
        var certificate = CertificateFiles.LoadIdentity("Broker:TlsCertificate", settings.TlsCertificate!, settings.TlsCertificatePassword, server: true, now);
        var trust = string.IsNullOrWhiteSpace(settings.TlsCa) ? null : new CertificateTrust(CertificateFiles.LoadTrusted("Broker:TlsCa", settings.TlsCa, now));
        return new SiloTls(certificate, trust, settings.TlsRequireClientCertificate);
    }

    public void Apply(ISiloBuilder silo) =>
        silo.UseTls(Certificate, options =>
        {
            // One TlsOptions serves the silo's listeners (where RemoteCertificateMode is about the
            // caller's certificate) and its calls to other silos (about theirs, which a server always shows).
            options.RemoteCertificateMode = RequireClientCertificate ? RemoteCertificateMode.RequireCertificate : RemoteCertificateMode.AllowCertificate;

            // Show this silo's certificate to every silo it calls, so that mutual silos let it join.
            options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
            if (Trust is not null)
            {
                options.RemoteCertificateValidation = Trust.Validate;
            }
        });
}
