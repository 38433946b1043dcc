using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A throwaway PKI made at run time in a temporary directory, deleted on Dispose: a test CA, a silo
/// and a client certificate it issued, and a stranger's certificate issued by an unrelated CA.
/// Nothing is checked in and nothing is installed in any store.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    /// <summary>The password of every .pfx here: a word that must never show up in any output.</summary>
    public const string Password = "pfx-SECRET-4b1d";

    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    // Kept with its key, to issue the odd certificate a test asks for.
    private readonly X509Certificate2 _ca;

    private TestCertificates(string directory, X509Certificate2 ca)
    {
        Directory = directory;
        _ca = ca;
    }

    public string Directory { get; }

    /// <summary>The test CA's certificate, PEM: what silos and clients are told to trust.</summary>
    public string CaFile => Path.Combine(Directory, "ca.pem");

    /// <summary>A silo's certificate and key (server and client authentication), for localhost and 127.0.0.1.</summary>
    public string SiloFile => Path.Combine(Directory, "silo.pfx");

    /// <summary>A client's certificate and key (client authentication only).</summary>
    public string ClientFile => Path.Combine(Directory, "client.pfx");

    /// <summary>A certificate and key issued by another CA, which nothing here trusts.</summary>
    public string StrangerFile => Path.Combine(Directory, "stranger.pfx");

    /// <summary>The other CA's certificate, PEM.</summary>
    public string OtherCaFile => Path.Combine(Directory, "other-ca.pem");

    public static TestCertificates Create()
    {
        var now = DateTimeOffset.UtcNow;
        var ca = CreateCa("CN=OrleansBroker test CA", now);
        var certificates = new TestCertificates(System.IO.Directory.CreateTempSubdirectory("orleansbroker-tls-").FullName, ca);
        using var otherCa = CreateCa("CN=Some other CA", now);
        File.WriteAllText(certificates.CaFile, ca.ExportCertificatePem());
        File.WriteAllText(certificates.OtherCaFile, otherCa.ExportCertificatePem());
        // Valid from a few minutes ago: another process's clock reads the same, but not a moment earlier.
        WritePfx(certificates.SiloFile, Issue(ca, "CN=silo", ServerAndClient, now.AddMinutes(-5), now.AddDays(1)));
        WritePfx(certificates.ClientFile, Issue(ca, "CN=client", ClientOnly, now.AddMinutes(-5), now.AddDays(1)));
        WritePfx(certificates.StrangerFile, Issue(otherCa, "CN=stranger", ServerAndClient, now.AddMinutes(-5), now.AddDays(1)));
        return certificates;
    }

    /// <summary>A certificate with its key issued by the test CA, for tests that need an odd one (expired, say).</summary>
    public string WriteIssued(string name, Oid[] usages, DateTimeOffset notBefore, DateTimeOffset notAfter, string? password = Password)
    {
        var path = Path.Combine(Directory, name + ".pfx");
        WritePfx(path, Issue(_ca, "CN=" + name, usages, notBefore, notAfter), password);
        return path;
    }

    public static Oid[] ServerAndClient => [ServerAuthentication, ClientAuthentication];

    public static Oid[] ClientOnly => [ClientAuthentication];

    public void Dispose()
    {
        _ca.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private static X509Certificate2 CreateCa(string subject, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        return request.CreateSelfSigned(now.AddDays(-1), now.AddDays(2));
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, string subject, Oid[] usages, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([.. usages], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var issued = request.Create(ca, notBefore, notAfter, RandomNumberGenerator.GetBytes(16));
        return issued.CopyWithPrivateKey(key);
    }

    private static void WritePfx(string path, X509Certificate2 certificate, string? password = Password)
    {
        using (certificate)
        {
            File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, password));
        }
    }
}
