using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Processes;

/// <summary>
/// No secret reaches any output: the silo and the client are run with a Redis password in their
/// settings, against a port where nothing listens or with a connection string they cannot parse,
/// and fail in one line that names the endpoint and never the password.
/// </summary>
public sealed class SecretsTests
{
    private const string Secret = "SOMESECRET";
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    // The test's own environment could name a Redis; these runs must see only what they are given.
    private static readonly IReadOnlyDictionary<string, string?> Isolated = new Dictionary<string, string?> { ["Broker__Redis"] = null, ["Broker__Clustering"] = null };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Silo_RedisNotAnswering_FailsInOneLine_NamingTheEndpointOnly(bool fromEnvironment)
    {
        var port = ProgramProcess.FreePort();
        var redis = $"127.0.0.1:{port},password={Secret}";
        var silo = await RunSilo(fromEnvironment, redis);

        Assert.Equal(1, silo.ExitCode);
        Assert.StartsWith($"silo: could not run: Redis at 127.0.0.1:{port}: ", Assert.Single(silo.Stderr));
        AssertNoSecret(silo);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Client_RedisNotAnswering_FailsInOneLine_NamingTheEndpointOnly(bool fromEnvironment)
    {
        var port = ProgramProcess.FreePort();
        var redis = $"127.0.0.1:{port},password={Secret}";
        var client = fromEnvironment
            ? await ProgramProcess.RunAsync("client", new Dictionary<string, string?> { ["Broker__Redis"] = redis }, RunTimeout, "topics")
            : await ProgramProcess.RunAsync("client", Isolated, RunTimeout, "topics", "--redis", redis);

        Assert.Equal(1, client.ExitCode);
        Assert.StartsWith($"client: no silo answers at Redis 127.0.0.1:{port} (cluster 'orleansbroker'): ", Assert.Single(client.Stderr));
        AssertNoSecret(client);
    }

    [Theory]
    [InlineData("127.0.0.1:6379,password=SOMESECRET,abortConnect=maybe", "is not a valid Redis connection string: Keyword 'abortConnect'")]
    [InlineData("127.0.0.1:6379,password=SOMESECRET,connectTimeout=SOMESECRET", "is not a valid Redis connection string: Keyword 'connectTimeout'")]
    [InlineData("redis://:SOMESECRET@127.0.0.1:6379", "names a Redis endpoint that is not host:port")]
    public async Task MalformedRedis_ExitsTwoInOneLine_WithoutTheSecret(string redis, string why)
    {
        var runs = await Task.WhenAll(
            RunSilo(fromEnvironment: false, redis),
            RunSilo(fromEnvironment: true, redis),
            ProgramProcess.RunAsync("client", Isolated, RunTimeout, "topics", "--redis", redis),
            ProgramProcess.RunAsync("client", new Dictionary<string, string?> { ["Broker__Redis"] = redis }, RunTimeout, "topics"));

        Assert.All(runs, run => Assert.Equal(2, run.ExitCode));
        Assert.StartsWith($"silo: Broker:Redis {why}", Assert.Single(runs[0].Stderr));
        Assert.StartsWith($"silo: Broker:Redis {why}", Assert.Single(runs[1].Stderr));
        Assert.StartsWith($"client: --redis {why}", Assert.Single(runs[2].Stderr));
        Assert.StartsWith($"client: Broker__Redis {why}", Assert.Single(runs[3].Stderr));
        Assert.All(runs, AssertNoSecret);
    }

    private static Task<ProgramProcess> RunSilo(bool fromEnvironment, string redis)
    {
        string[] ports = ["--silo-port", ProgramProcess.FreePort().ToString(), "--gateway-port", ProgramProcess.FreePort().ToString(), "--dashboard-port", "0"];
        return fromEnvironment
            ? ProgramProcess.RunAsync("silo", new Dictionary<string, string?> { ["Broker__Clustering"] = "Redis", ["Broker__Redis"] = redis }, RunTimeout, ports)
            : ProgramProcess.RunAsync("silo", Isolated, RunTimeout, [.. ports, "--clustering", "Redis", "--redis", redis]);
    }

    private static void AssertNoSecret(ProgramProcess process)
    {
        Assert.DoesNotContain(process.Stdout, l => l.Contains(Secret, StringComparison.Ordinal));
        Assert.DoesNotContain(process.Stderr, l => l.Contains(Secret, StringComparison.Ordinal));
    }
}
