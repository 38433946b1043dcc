using System.Text;
using OrleansBroker.Cli;
using OrleansBroker.Cli.Commands;

namespace OrleansBroker.Tests.Unit;

// Cli.ClientCommandLine, not ClientCommandLine: Garnet (the embedded test store) brings a global CommandLine namespace.

public sealed class CommandLineTests
{
    [Fact]
    public void Pub_ParsesHeadersCountAndGateways()
    {
        var cli = new Cli.ClientCommandLine(NoEnvironment);
        var result = cli.Parse(["--gateway", "10.0.0.1:30001", "pub", "orders", "hello", "--header", "a=b=c", "--count", "5", "--gateway", "h:2", "--rate", "2.5"]);
        Assert.Null(Cli.ClientCommandLine.Error(result));
        var pub = cli.Pub.Bind(result);
        Assert.Equal("orders", pub.Topic);
        Assert.Equal("hello", Encoding.UTF8.GetString(pub.Body!.Bytes.Span));
        Assert.Equal("b=c", pub.Header["a"]);
        Assert.Equal((5, 2.5), (pub.Count, pub.Rate));
        Assert.Equal(["10.0.0.1:30001", "h:2"], cli.Connection.Bind(result).Gateways.Select(g => $"{g.Host}:{g.Port}"));
    }

    [Theory]
    [InlineData("-")]
    [InlineData(null)]
    public void Pub_DashOrNoBody_ReadsStandardInput(string? body)
    {
        var cli = new Cli.ClientCommandLine(NoEnvironment);
        var result = cli.Parse(body is null ? ["pub", "orders"] : ["pub", "orders", body]);
        Assert.Null(Cli.ClientCommandLine.Error(result));
        Assert.Null(cli.Pub.Bind(result).Body);
    }

    [Fact]
    public void Sub_ParsesQueueCountAndHeaders()
    {
        var cli = new Cli.ClientCommandLine(NoEnvironment);
        var result = cli.Parse(["sub", "orders", "--queue", "workers", "--count", "3", "--headers"]);
        Assert.Null(Cli.ClientCommandLine.Error(result));
        Assert.Equal(new SubRequest { Topic = "orders", Count = 3, ShowHeaders = true, Options = new SubscribeOptions { Queue = "workers" } }, cli.Sub.Bind(result));
    }

    [Fact]
    public void Sub_ParsesDurableOptions()
    {
        var cli = new Cli.ClientCommandLine(NoEnvironment);
        var result = cli.Parse(["sub", "orders", "--queue", "billing", "--durable", "--ack-wait", "1.5s", "--max-deliver", "3", "--max-ack-pending", "50"]);
        Assert.Null(Cli.ClientCommandLine.Error(result));
        var options = cli.Sub.Bind(result).Options;
        Assert.Equal((true, "billing", TimeSpan.FromSeconds(1.5), 3, 50), (options.Durable, options.Queue, options.AckWait, options.MaxDeliver, options.MaxAckPending));

        var plain = cli.Sub.Bind(cli.Parse(["sub", "orders", "--queue", "billing"])).Options;
        Assert.Equal(new SubscribeOptions { Queue = "billing" }, plain);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("2m", 120_000)]
    [InlineData("00:00:03", 3_000)]
    public void AckWait_TakesUnitsOrAClockTime(string text, int milliseconds)
    {
        var cli = new Cli.ClientCommandLine(NoEnvironment);
        var result = cli.Parse(["sub", "orders", "--queue", "q", "--durable", "--ack-wait", text]);
        Assert.Null(Cli.ClientCommandLine.Error(result));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), cli.Sub.Bind(result).Options.AckWait);
    }

    [Fact]
    public void DurableDelete_SubscribesToDeadLetterTopicsToo()
    {
        var cli = new Cli.ClientCommandLine(NoEnvironment);
        Assert.Null(Cli.ClientCommandLine.Error(cli.Parse(["durable", "delete", DeadLetter.TopicOf("orders", "billing"), DeadLetter.Queue])));
        Assert.Null(Cli.ClientCommandLine.Error(cli.Parse(["sub", DeadLetter.TopicOf("orders", "billing"), "--queue", DeadLetter.Queue, "--durable"])));
    }

    [Fact]
    public void DefaultGateway_IsLocalhost30000()
    {
        var cli = new Cli.ClientCommandLine(NoEnvironment);
        var gateway = Assert.Single(cli.Connection.Bind(cli.Parse(["topics"])).Gateways);
        Assert.Equal(("localhost", 30000), (gateway.Host, gateway.Port));
    }

    [Theory]
    [InlineData(new[] { "frob" }, "unknown command 'frob' (pub, sub, topics, durable)")]
    [InlineData(new[] { "sub", "t", "--durable" }, "--durable needs --queue")]
    [InlineData(new[] { "sub", "t", "--queue", "q", "--ack-wait", "5s" }, "--ack-wait applies to a durable subscription only (add --durable)")]
    [InlineData(new[] { "sub", "t", "--queue", "q", "--durable", "--ack-wait", "0s" }, "--ack-wait wants a positive duration")]
    [InlineData(new[] { "sub", "t", "--queue", "q", "--durable", "--ack-wait", "soon" }, "--ack-wait wants a positive duration")]
    [InlineData(new[] { "sub", "t", "--queue", "q", "--durable", "--max-deliver", "0" }, "--max-deliver wants a positive number, not '0'")]
    [InlineData(new[] { "sub", "t", "--queue", "q", "--durable", "--max-ack-pending", "x" }, "--max-ack-pending wants a positive number, not 'x'")]
    [InlineData(new[] { "durable" }, "Required command was not provided")]
    [InlineData(new[] { "durable", "delete", "t" }, "Required argument missing for command: 'delete'")]
    [InlineData(new[] { "durable", "delete", "$x", "q" }, "Invalid topic '$x'")]
    [InlineData(new[] { "durable", "delete", "t", "a b" }, "Invalid queue 'a b'")]
    [InlineData(new[] { "pub", "$DLQ.t.q", "b" }, "Invalid topic '$DLQ.t.q'")]
    [InlineData(new[] { "pub" }, "Required argument missing for command: 'pub'")]
    [InlineData(new[] { "pub", "t", "b", "c" }, "pub takes no more arguments: 'c'")]
    [InlineData(new[] { "sub" }, "Required argument missing for command: 'sub'")]
    [InlineData(new[] { "topics", "x" }, "topics takes no more arguments: 'x'")]
    [InlineData(new[] { "pub", "t", "b", "--count", "0" }, "--count wants a positive number, not '0'")]
    [InlineData(new[] { "pub", "t", "b", "--count", "abc" }, "--count wants a positive number, not 'abc'")]
    [InlineData(new[] { "pub", "t", "b", "--rate", "-1" }, "--rate wants a positive number")]
    [InlineData(new[] { "pub", "t", "b", "--header", "novalue" }, "--header wants key=value, not 'novalue'")]
    [InlineData(new[] { "pub", "t", "b", "--header", "a:b=c" }, "Invalid header key 'a:b'")]
    [InlineData(new[] { "pub", "bad topic", "b" }, "Invalid topic 'bad topic'")]
    [InlineData(new[] { "sub", "t", "--gateway", "nohost" }, "--gateway wants host:port, not 'nohost'")]
    [InlineData(new[] { "sub", "t", "--gateway", "h:70000" }, "--gateway wants host:port")]
    [InlineData(new[] { "sub", "t", "--queue" }, "Required argument missing for option: '--queue'")]
    [InlineData(new[] { "sub", "t", "--queue", "a b" }, "Invalid queue 'a b'")]
    [InlineData(new[] { "sub", "t", "--bogus" }, "unknown option --bogus")]
    [InlineData(new[] { "pub", "t", "b", "--queue", "q" }, "unknown option --queue")]
    [InlineData(new[] { "topics", "--redis", "h:1", "--gateway", "h:2" }, "give --gateway or --redis, not both")]
    public void BadInput_IsOneLine_WithoutUsage(string[] args, string expected)
    {
        var result = new Cli.ClientCommandLine(NoEnvironment).Parse(args);
        var error = Cli.ClientCommandLine.Error(result);
        Assert.NotNull(error);
        Assert.StartsWith(expected, error);
        Assert.DoesNotContain('\n', error);
        Assert.False(Cli.ClientCommandLine.LacksCommand(result));
    }

    [Fact]
    public void NoCommand_IsTheOneErrorThatShowsUsage()
    {
        var result = new Cli.ClientCommandLine(NoEnvironment).Parse(["--gateway", "h:1"]);
        Assert.Equal("no command given (pub, sub, topics, durable)", Cli.ClientCommandLine.Error(result));
        Assert.True(Cli.ClientCommandLine.LacksCommand(result));
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("pub", "--help")]
    [InlineData("sub", "-h")]
    [InlineData("topics", "--help")]
    [InlineData("durable", "delete", "--help")]
    public void Help_IsNoError_AndEachCommandHasItsOwn(params string[] args)
    {
        var cli = new Cli.ClientCommandLine(NoEnvironment);
        var output = new StringWriter();
        Assert.Equal(0, cli.Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = output }));
        var usage = output.ToString();
        Assert.Contains("--gateway", usage);
        if (args.Length == 2)
        {
            Assert.Contains($"{args[0]} ", usage[usage.IndexOf("Usage:", StringComparison.Ordinal)..]);
        }
    }

    [Fact]
    public void Tls_IsOffByDefault_AndOnWithAnyTlsOption()
    {
        var cli = new Cli.ClientCommandLine(NoEnvironment);
        Assert.False(cli.Connection.Bind(cli.Parse(["topics"])).Tls);
        Assert.True(cli.Connection.Bind(cli.Parse(["topics", "--tls"])).Tls);
        var line = cli.Connection.Bind(cli.Parse(["topics", "--tls-ca", "ca.pem", "--tls-cert", "me.pfx", "--tls-cert-password", "pw"]));
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
            ["Broker__ClusterId"] = "blue",
        };
        var cli = new Cli.ClientCommandLine(name => environment.GetValueOrDefault(name));
        var result = cli.Parse(["topics"]);
        Assert.Null(Cli.ClientCommandLine.Error(result));
        var line = cli.Connection.Bind(result);
        Assert.Equal((true, "ca.pem", "me.pfx", "pw", "10.0.0.5:6379,password=pw", "blue"),
            (line.Tls, line.TlsCa, line.TlsCertificate, line.TlsCertificatePassword, line.Redis, line.ClusterId));
    }

    [Fact]
    public void Tls_WithRedis_NeedsACa() =>
        Assert.Contains("needs --tls-ca", Cli.ClientCommandLine.Error(new Cli.ClientCommandLine(NoEnvironment).Parse(["topics", "--redis", "h:1", "--tls"])));

    [Fact]
    public void Redis_Malformed_IsAUsageError_NamingWhereItCameFrom_WithoutThePassword()
    {
        var flag = Cli.ClientCommandLine.Error(new Cli.ClientCommandLine(NoEnvironment).Parse(["topics", "--redis", "h:1,password=SOMESECRET,abortConnect=maybe"]));
        Assert.StartsWith("--redis is not a valid Redis connection string", flag);
        var environment = Cli.ClientCommandLine.Error(new Cli.ClientCommandLine(name => name == "Broker__Redis" ? "redis://:SOMESECRET@h:1" : null).Parse(["topics"]));
        Assert.StartsWith("Broker__Redis names a Redis endpoint that is not host:port", environment);
        Assert.All([flag, environment], m => Assert.DoesNotContain("SOMESECRET", m));
    }

    [Fact]
    public void Redact_HidesTheRedisAndCertificatePasswords()
    {
        var cli = new Cli.ClientCommandLine(NoEnvironment);
        var result = cli.Parse(["topics", "--redis", "h:1,password=SOMESECRET", "--tls-ca", "ca.pem", "--tls-cert-password", "PFXSECRET"]);
        Assert.Equal("***** and *****", cli.Redact(result, "SOMESECRET and PFXSECRET"));
        Assert.Equal("***** and *****", cli.Connection.Bind(result).Redact("SOMESECRET and PFXSECRET"));
    }

    [Fact]
    public void ToString_ShowsNoSecret()
    {
        var cli = new Cli.ClientCommandLine(NoEnvironment);
        var line = cli.Connection.Bind(cli.Parse(["topics", "--redis", "h:1,password=SOMESECRET", "--tls-ca", "ca.pem", "--tls-cert-password", "PFXSECRET"]));
        Assert.DoesNotContain("SECRET", line.ToString());
    }

    [Fact]
    public void ABodyStartingWithAnAt_IsABody_NotAResponseFile()
    {
        var cli = new Cli.ClientCommandLine(NoEnvironment);
        var result = cli.Parse(["pub", "t", "@mention"]);
        Assert.Null(Cli.ClientCommandLine.Error(result));
        Assert.Equal("@mention", Encoding.UTF8.GetString(cli.Pub.Bind(result).Body!.Bytes.Span));
    }

    private static string? NoEnvironment(string name) => null;
}
