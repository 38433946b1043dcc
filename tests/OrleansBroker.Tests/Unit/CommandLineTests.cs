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
}
