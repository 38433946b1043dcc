using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Processes;

/// <summary>
/// TLS between the real silo and client programs on loopback, with a CA and certificates the test
/// makes for itself. Every process and the certificates' directory go at the end, pass or fail.
/// </summary>
public sealed class TlsTests : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(45);

    private readonly TestCertificates _certificates = TestCertificates.Create();
    private readonly List<ProgramProcess> _processes = [];

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        _certificates.Dispose();
    }

    [Fact]
    public async Task MutualTls_RefusesClientsWithoutATrustedCertificate_AndOneWithItPublishesAndSubscribes()
    {
        // The certificate's password from the environment, as an operator would keep it out of the command line.
        var gateway = await StartSiloAsync(new Dictionary<string, string?> { ["Broker__TlsCertificatePassword"] = TestCertificates.Password },
            "--tls-cert", _certificates.SiloFile, "--tls-ca", _certificates.CaFile, "--tls-require-client-cert");
        Assert.Contains(_processes[0].Stdout, l => l.Contains("OrleansBroker silo ready") && l.Contains("mutual TLS"));

        var refused = await Task.WhenAll(
            Run("topics", "--gateway", gateway),
            Run("topics", "--gateway", gateway, "--tls-ca", _certificates.CaFile),
            Run("topics", "--gateway", gateway, "--tls-ca", _certificates.CaFile, "--tls-cert", _certificates.StrangerFile, "--tls-cert-password", TestCertificates.Password));
        AssertRefused(refused[0], gateway, "the gateway ended the connection: does the silo require TLS");
        AssertRefused(refused[1], gateway, "does it require a client certificate (--tls-cert FILE)");
        AssertRefused(refused[2], gateway, "does it not trust this client's certificate");

        string[] trusted = ["--gateway", gateway, "--tls-ca", _certificates.CaFile, "--tls-cert", _certificates.ClientFile];
        var sub = Track(ProgramProcess.Start("client", [.. trusted, "--tls-cert-password", TestCertificates.Password, "sub", "secure.orders", "--count", "2"]));
        await sub.WaitForLine(l => l.StartsWith("subscribed to secure.orders"), "the subscription over mutual TLS", StartTimeout);
        var pub = await ProgramProcess.RunAsync("client", new Dictionary<string, string?> { ["Broker__TlsCertificatePassword"] = TestCertificates.Password },
            RunTimeout, [.. trusted, "pub", "secure.orders", "hello {n}", "--count", "2"]);
        Assert.Equal(0, pub.ExitCode);
        Assert.Equal(["published 2 message(s) to secure.orders"], pub.Stdout);

        await sub.WaitForExitAsync(RunTimeout);
        Assert.Equal(0, sub.ExitCode);
        Assert.Equal(["hello 1", "hello 2"], sub.Stdout);
        AssertNoPasswordIn([.. _processes, .. refused, pub]);
    }

    [Fact]
    public async Task Tls_ClientChecksTheSilosCertificate_AgainstItsCa_AndIsToldWhenRefused()
    {
        var gateway = await StartSiloAsync(new Dictionary<string, string?>(),
            "--tls-cert", _certificates.SiloFile, "--tls-cert-password", TestCertificates.Password);

        var results = await Task.WhenAll(
            Run("topics", "--gateway", gateway, "--tls-ca", _certificates.CaFile),
            Run("topics", "--gateway", gateway, "--tls-ca", _certificates.OtherCaFile),
            Run("topics", "--gateway", gateway, "--tls-ca", _certificates.CaFile, "--cluster-id", "another"));
        Assert.Equal(0, results[0].ExitCode);
        Assert.Equal("(no topics)", results[0].Stdout[^1]);
        AssertRefused(results[1], gateway, "TLS handshake failed");

        // A gateway ends another cluster's client as it ends an untrusted one: the line names both causes.
        AssertRefused(results[2], gateway, "or belong to another cluster (--cluster-id)?");
        AssertNoPasswordIn([.. _processes, .. results]);
    }

    [Fact]
    public async Task CertificateFilesThatCannotBeUsed_ExitTwoWithOneLine_NamingNoPassword()
    {
        var missing = Path.Combine(_certificates.Directory, "missing.pfx");
        var ports = new[] { "--silo-port", ProgramProcess.FreePort().ToString(), "--gateway-port", ProgramProcess.FreePort().ToString(), "--dashboard-port", "0" };
        var runs = await Task.WhenAll(
            ProgramProcess.RunAsync("silo", RunTimeout, [.. ports, "--tls-cert", missing]),
            ProgramProcess.RunAsync("silo", RunTimeout, [.. ports, "--tls-cert", _certificates.SiloFile, "--tls-cert-password", "wrong-" + TestCertificates.Password]),
            ProgramProcess.RunAsync("silo", RunTimeout, [.. ports, "--tls-cert", _certificates.SiloFile, "--tls-require-client-cert"]),
            Run("topics", "--tls-cert", _certificates.ClientFile, "--tls-cert-password", "wrong-" + TestCertificates.Password),
            Run("topics", "--tls-ca", missing));

        Assert.All(runs, run => Assert.Equal(2, run.ExitCode));
        Assert.Equal([$"silo: Broker:TlsCertificate: no file at '{missing}'"], runs[0].Stderr);
        Assert.Equal([$"silo: Broker:TlsCertificate: '{_certificates.SiloFile}' is not a PKCS#12 (.pfx) file, or its password is wrong"], runs[1].Stderr);
        Assert.Equal(["silo: Broker:TlsRequireClientCertificate needs Broker:TlsCa: the CA whose certificates clients must show"], runs[2].Stderr);
        Assert.Equal([$"client: --tls-cert: '{_certificates.ClientFile}' is not a PKCS#12 (.pfx) file, or its password is wrong"], runs[3].Stderr);
        Assert.Equal([$"client: --tls-ca: no file at '{missing}'"], runs[4].Stderr);
        AssertNoPasswordIn(runs);
    }

    [Fact]
    public async Task MutualTls_BetweenSilos_ASiloWithATrustedCertificateJoins_AndAStrangerDoesNot()
    {
        // Orleans lets a silo become active only once it has reached every active silo: the second
        // silo's "ready" is its TLS handshake with the first, both ways.
        using var redis = RedisServer.Start();
        var environment = new Dictionary<string, string?> { ["Broker__TlsCertificatePassword"] = TestCertificates.Password };
        string[] cluster = ["--clustering", "Redis", "--redis", redis.ConnectionString, "--cluster-id", "tls-" + Guid.NewGuid().ToString("N")[..8],
            "--tls-ca", _certificates.CaFile, "--tls-require-client-cert"];
        await StartSiloAsync(environment, [.. cluster, "--tls-cert", _certificates.SiloFile]);
        await StartSiloAsync(environment, [.. cluster, "--tls-cert", _certificates.SiloFile]);

        var stranger = Track(ProgramProcess.Start("silo", environment,
            ["--silo-port", ProgramProcess.FreePort().ToString(), "--gateway-port", ProgramProcess.FreePort().ToString(), "--dashboard-port", "0",
                .. cluster, "--tls-cert", _certificates.StrangerFile]));
        await stranger.WaitForLine(l => l.Contains("Connection [") && l.Contains("terminated"), "the cluster to refuse the stranger's connection", StartTimeout);

        // The two that joined serve a client that holds a trusted certificate.
        var topics = await ProgramProcess.RunAsync("client", environment, RunTimeout,
            ["--redis", redis.ConnectionString, "--cluster-id", cluster[5], "--tls-ca", _certificates.CaFile, "--tls-cert", _certificates.ClientFile, "topics"]);
        Assert.Equal(0, topics.ExitCode);
        Assert.DoesNotContain(stranger.Stdout, l => l.Contains("OrleansBroker silo ready"));
        AssertNoPasswordIn([.. _processes, topics]);
    }

    /// <summary>Starts a silo with these settings on free loopback ports; returns its gateway.</summary>
    private async Task<string> StartSiloAsync(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var gatewayPort = ProgramProcess.FreePort();
        var silo = Track(ProgramProcess.Start("silo", environment,
            ["--silo-port", ProgramProcess.FreePort().ToString(), "--gateway-port", gatewayPort.ToString(), "--dashboard-port", "0", .. args]));
        await silo.WaitForLine(l => l.Contains("OrleansBroker silo ready"), "the silo to be ready", StartTimeout);
        return $"127.0.0.1:{gatewayPort}";
    }

    private static Task<ProgramProcess> Run(params string[] args) => ProgramProcess.RunAsync("client", RunTimeout, args);

    private ProgramProcess Track(ProgramProcess process)
    {
        _processes.Add(process);
        return process;
    }

    /// <summary>Refused: exit 1 and one line on standard error that says where and why, nothing else.</summary>
    private static void AssertRefused(ProgramProcess client, string gateway, string why)
    {
        Assert.Equal(1, client.ExitCode);
        Assert.Empty(client.Stdout);
        var line = Assert.Single(client.Stderr);
        Assert.StartsWith($"client: no silo answers at {gateway}: ", line);
        Assert.True(line.Contains(why, StringComparison.Ordinal), $"expected '{why}' in: {line}");
    }

    private static void AssertNoPasswordIn(IEnumerable<ProgramProcess> processes) =>
        Assert.All(processes, p => Assert.DoesNotContain(p.Stdout.Concat(p.Stderr), l => l.Contains(TestCertificates.Password, StringComparison.Ordinal)));
}
