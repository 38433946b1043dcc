using OrleansBroker.Internal;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Unit;

public sealed class CertificateFilesTests : IDisposable
{
    private readonly TestCertificates _certificates = TestCertificates.Create();
    private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;

    public void Dispose() => _certificates.Dispose();

    [Fact]
    public void LoadIdentity_APfxWithItsPassword_HasItsPrivateKey()
    {
        using var certificate = CertificateFiles.LoadIdentity("--tls-cert", _certificates.SiloFile, TestCertificates.Password, server: true, _now);
        Assert.True(certificate.HasPrivateKey);
        Assert.Equal("CN=silo", certificate.Subject);
    }

    [Fact]
    public void LoadIdentity_WrongPassword_SaysSoInOneLine_WithoutEitherPassword()
    {
        var error = Assert.Throws<CertificateFileException>(() => CertificateFiles.LoadIdentity("--tls-cert", _certificates.SiloFile, "not-it", server: true, _now));
        Assert.Equal($"--tls-cert: '{_certificates.SiloFile}' is not a PKCS#12 (.pfx) file, or its password is wrong", error.Message);
    }

    [Fact]
    public void LoadIdentity_NoFile_NamesThePath()
    {
        var missing = Path.Combine(_certificates.Directory, "missing.pfx");
        var error = Assert.Throws<CertificateFileException>(() => CertificateFiles.LoadIdentity("Broker:TlsCertificate", missing, null, server: true, _now));
        Assert.Equal($"Broker:TlsCertificate: no file at '{missing}'", error.Message);
    }

    [Fact]
    public void LoadIdentity_APemFile_IsNotAPfx() =>
        Assert.Contains("is not a PKCS#12 (.pfx) file", Assert.Throws<CertificateFileException>(
            () => CertificateFiles.LoadIdentity("--tls-cert", _certificates.CaFile, null, server: false, _now)).Message);

    [Fact]
    public void LoadIdentity_Expired_SaysWhen()
    {
        var expired = _certificates.WriteIssued("expired", TestCertificates.ServerAndClient, _now.AddHours(-2), _now.AddHours(-1));
        Assert.Contains("expired on", Assert.Throws<CertificateFileException>(
            () => CertificateFiles.LoadIdentity("--tls-cert", expired, TestCertificates.Password, server: true, _now)).Message);
    }

    [Fact]
    public void LoadIdentity_AClientOnlyCertificate_CannotServeASilo()
    {
        Assert.Contains("not allowed for server authentication", Assert.Throws<CertificateFileException>(
            () => CertificateFiles.LoadIdentity("Broker:TlsCertificate", _certificates.ClientFile, TestCertificates.Password, server: true, _now)).Message);
        using var client = CertificateFiles.LoadIdentity("--tls-cert", _certificates.ClientFile, TestCertificates.Password, server: false, _now);
        Assert.True(client.HasPrivateKey);
    }

    [Fact]
    public void LoadTrusted_APemCa_IsOneCertificate() =>
        Assert.Equal("CN=OrleansBroker test CA", Assert.Single(CertificateFiles.LoadTrusted("--tls-ca", _certificates.CaFile, _now)).Subject);

    [Fact]
    public void LoadTrusted_NotACertificate_SaysSo()
    {
        var text = Path.Combine(_certificates.Directory, "notes.txt");
        File.WriteAllText(text, "not a certificate");
        Assert.Equal($"--tls-ca: '{text}' is not a PEM or DER certificate file",
            Assert.Throws<CertificateFileException>(() => CertificateFiles.LoadTrusted("--tls-ca", text, _now)).Message);
    }
}
