using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansBroker.Internal;

/// <summary>
/// Loads the certificate files that TLS is configured with, refusing at start what a handshake
/// would refuse later with a far less helpful message.
/// </summary>
internal static class CertificateFiles
{
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    /// <summary>
    /// This side's own certificate and private key, from a PKCS#12 (.pfx) file. Every one is shown
    /// to the silos or gateways it calls, so it must allow client authentication; a silo's also
    /// answers connections, so <paramref name="server"/> asks for server authentication too.
    /// </summary>
    /// <exception cref="CertificateFileException">The file is missing, unreadable, or holds no usable certificate.</exception>
    public static X509Certificate2 LoadIdentity(string setting, string path, string? password, bool server, DateTimeOffset now)
    {
        RequireFile(setting, path);
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, string.IsNullOrEmpty(password) ? null : password);
        }
        catch (CryptographicException)
        {
            // The exception's text varies by platform; what the operator can act on is one of these two.
            throw new CertificateFileException($"{setting}: '{path}' is not a PKCS#12 (.pfx) file, or its password is wrong");
        }

        try
        {
            if (!certificate.HasPrivateKey)
            {
                throw new CertificateFileException($"{setting}: '{path}' holds no private key");
            }

            RequireValidAt(setting, path, certificate, now);
            if (server && !AllowsUse(certificate, ServerAuthentication))
            {
                throw new CertificateFileException($"{setting}: '{path}' is not allowed for server authentication (extended key usage)");
            }

            if (!AllowsUse(certificate, ClientAuthentication))
            {
                throw new CertificateFileException($"{setting}: '{path}' is not allowed for client authentication (extended key usage)");
            }

            return certificate;
        }
        catch
        {
            certificate.Dispose();
            throw;
        }
    }

    /// <summary>The certificates a peer's must chain to: PEM (one or more) or a single DER certificate.</summary>
    /// <exception cref="CertificateFileException">The file is missing or holds no certificate.</exception>
    public static X509Certificate2Collection LoadTrusted(string setting, string path, DateTimeOffset now)
    {
        RequireFile(setting, path);
        var trusted = new X509Certificate2Collection();
        try
        {
            trusted.ImportFromPemFile(path);
            if (trusted.Count == 0)
            {
                trusted.Add(X509CertificateLoader.LoadCertificateFromFile(path));
            }
        }
        catch (CryptographicException)
        {
            throw new CertificateFileException($"{setting}: '{path}' is not a PEM or DER certificate file");
        }

        foreach (var certificate in trusted)
        {
            RequireValidAt(setting, path, certificate, now);
        }

        return trusted;
    }

    private static void RequireFile(string setting, string path)
    {
        if (!File.Exists(path))
        {
            throw new CertificateFileException($"{setting}: no file at '{path}'");
        }
    }

    private static void RequireValidAt(string setting, string path, X509Certificate2 certificate, DateTimeOffset now)
    {
        if (now < certificate.NotBefore.ToUniversalTime())
        {
            throw new CertificateFileException($"{setting}: '{path}' is not valid before {certificate.NotBefore.ToUniversalTime():u}");
        }

        if (now > certificate.NotAfter.ToUniversalTime())
        {
            throw new CertificateFileException($"{setting}: '{path}' expired on {certificate.NotAfter.ToUniversalTime():u}");
        }
    }

    // As Orleans decides (CertificateLoader): no extended key usage extension means every use is allowed.
    private static bool AllowsUse(X509Certificate2 certificate, string oid)
    {
        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().ToList();
        return usages.Count == 0 || usages.Any(u => u.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value == oid));
    }
}
