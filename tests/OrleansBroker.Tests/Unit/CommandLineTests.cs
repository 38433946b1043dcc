using OrleansBroker.Cli;

namespace OrleansBroker.Tests.Unit;

// Cli.CommandLine, not CommandLine: Garnet (the embedded test store) brings a global CommandLine namespace.

public sealed class CommandLineTests
{
    [Fact]
    public void Pub_ParsesHeadersCountAndGateways()
    {
        var line = Cli.CommandLine.Parse(["--gateway", "10.0.0.1:30001", "pub", "orders", "hello", "--header", "a=b=c", "--count", "5", "--gateway", "h:2"]);
        Assert.Equal("pub", line.Command);
        Assert.Equal("orders", line.Topic);
        Assert.Equal("hello", line.Body);
        Assert.Equal("b=c", line.Header["a"]);
        Assert.Equal(5, line.Count);
        Assert.Equal(["10.0.0.1:30001", "h:2"], line.Gateways.Select(g => $"{g.Host}:{g.Port}"));
    }

    [Fact]
    public void DefaultGateway_IsLocalhost30000()
    {
        var gateway = Assert.Single(Cli.CommandLine.Parse(["topics"]).Gateways);
        Assert.Equal(("localhost", 30000), (gateway.Host, gateway.Port));
    }

    [Theory]
    [InlineData(new string[0], "no command")]
    [InlineData(new[] { "frob" }, "unknown command")]
    [InlineData(new[] { "pub", "t" }, "pub wants TOPIC and BODY")]
    [InlineData(new[] { "sub" }, "sub wants one TOPIC")]
    [InlineData(new[] { "topics", "x" }, "takes no arguments")]
    [InlineData(new[] { "pub", "t", "b", "--count", "0" }, "--count wants a positive number")]
    [InlineData(new[] { "pub", "t", "b", "--header", "novalue" }, "--header wants key=value")]
    [InlineData(new[] { "sub", "t", "--gateway", "nohost" }, "--gateway wants host:port")]
    [InlineData(new[] { "sub", "t", "--gateway", "h:70000" }, "--gateway wants host:port")]
    [InlineData(new[] { "sub", "t", "--queue" }, "--queue needs a value")]
    [InlineData(new[] { "sub", "t", "--bogus" }, "unknown option --bogus")]
    [InlineData(new[] { "pub", "t", "b", "--queue", "q" }, "does not apply to pub")]
    public void BadInput_ThrowsUsageWithOneLine(string[] args, string expected)
    {
        var error = Assert.Throws<UsageException>(() => Cli.CommandLine.Parse(args));
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Tls_IsOffByDefault_AndOnWithAnyTlsOption()
    {
        Assert.False(Cli.CommandLine.Parse(["topics"], NoEnvironment).Tls);
        Assert.True(Cli.CommandLine.Parse(["topics", "--tls"], NoEnvironment).Tls);
        var line = Cli.CommandLine.Parse(["topics", "--tls-ca", "ca.pem", "--tls-cert", "me.pfx", "--tls-cert-password", "pw"], NoEnvironment);
        Assert.Equal((true, "ca.pem", "me.pfx", "pw"), (line.Tls, line.TlsCa, line.TlsCertificate, line.TlsCertificatePassword));
    }

    [Fact]
    public void Tls_CanComeFromTheSilosEnvironmentVariables()
    {
        var environment = new Dictionary<string, string>
        {
            ["Broker__TlsCa"] = "ca.pem",
            ["Broker__TlsCertificate"] = "me.pfx",
            ["Broker__TlsCertificatePassword"] = "pw",
            ["Broker__Redis"] = "10.0.0.5:6379,password=pw",
        };
        var line = Cli.CommandLine.Parse(["topics"], name => environment.GetValueOrDefault(name));
        Assert.Equal((true, "ca.pem", "me.pfx", "pw", "10.0.0.5:6379,password=pw"), (line.Tls, line.TlsCa, line.TlsCertificate, line.TlsCertificatePassword, line.Redis));
    }

    [Fact]
    public void Tls_WithRedis_NeedsACa() =>
        Assert.Contains("needs --tls-ca", Assert.Throws<UsageException>(() => Cli.CommandLine.Parse(["topics", "--redis", "h:1", "--tls"], NoEnvironment)).Message);

    [Fact]
    public void Redis_Malformed_IsAUsageError_NamingWhereItCameFrom_WithoutThePassword()
    {
        var flag = Assert.Throws<UsageException>(() => Cli.CommandLine.Parse(["topics", "--redis", "h:1,password=SOMESECRET,abortConnect=maybe"], NoEnvironment));
        Assert.StartsWith("--redis is not a valid Redis connection string", flag.Message);
        var environment = Assert.Throws<UsageException>(() => Cli.CommandLine.Parse(["topics"], name => name == "Broker__Redis" ? "redis://:SOMESECRET@h:1" : null));
        Assert.StartsWith("Broker__Redis names a Redis endpoint that is not host:port", environment.Message);
        Assert.All([flag.Message, environment.Message], m => Assert.DoesNotContain("SOMESECRET", m));
    }

    [Fact]
    public void Redact_HidesTheRedisAndCertificatePasswords()
    {
        var line = Cli.CommandLine.Parse(["topics", "--redis", "h:1,password=SOMESECRET", "--tls-ca", "ca.pem", "--tls-cert-password", "PFXSECRET"], NoEnvironment);
        Assert.Equal("***** and *****", line.Redact("SOMESECRET and PFXSECRET"));
    }

    [Fact]
    public void ToString_ShowsNoSecret()
    {
        var line = Cli.CommandLine.Parse(["topics", "--redis", "h:1,password=SOMESECRET", "--tls-ca", "ca.pem", "--tls-cert-password", "PFXSECRET"], NoEnvironment);
        Assert.DoesNotContain("SECRET", line.ToString());
    }

    private static string? NoEnvironment(string name) => null;
}
