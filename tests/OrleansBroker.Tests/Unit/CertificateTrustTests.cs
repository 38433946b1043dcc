using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using OrleansBroker.Internal;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Unit;

public sealed class CertificateTrustTests : IDisposable
{
    private readonly TestCertificates _certificates = TestCertificates.Create();

    public void Dispose() => _certificates.Dispose();

    [Fact]
    public void Validate_ACertificateIssuedByTheTrustedCa_IsAccepted_WhateverTheSystemSays()
    {
        var trust = new CertificateTrust(CertificateFiles.LoadTrusted("--tls-ca", _certificates.CaFile, DateTimeOffset.UtcNow));
        using var client = Load(_certificates.ClientFile);
        Assert.True(trust.Validate(client, null, SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch));
    }

    [Fact]
    public void Validate_ACertificateFromAnotherCa_IsRefused_EvenWithNoErrorReported()
    {
        var trust = new CertificateTrust(CertificateFiles.LoadTrusted("--tls-ca", _certificates.CaFile, DateTimeOffset.UtcNow));
        using var stranger = Load(_certificates.StrangerFile);
        Assert.False(trust.Validate(stranger, null, SslPolicyErrors.None));
    }

    [Fact]
    public void Validate_TheOtherCa_TrustsOnlyItsOwn()
    {
        var trust = new CertificateTrust(CertificateFiles.LoadTrusted("--tls-ca", _certificates.OtherCaFile, DateTimeOffset.UtcNow));
        using var stranger = Load(_certificates.StrangerFile);
        using var client = Load(_certificates.ClientFile);
        Assert.True(trust.Validate(stranger, null, SslPolicyErrors.None));
        Assert.False(trust.Validate(client, null, SslPolicyErrors.None));
    }

    private static X509Certificate2 Load(string pfx) => X509CertificateLoader.LoadPkcs12FromFile(pfx, TestCertificates.Password);
}
