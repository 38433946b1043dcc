using System.Net;
using OrleansBroker.Tests.Infrastructure;
using StackExchange.Redis;

namespace OrleansBroker.Tests.Processes;

/// <summary>The silo program's health endpoints, probed over HTTP as Kubernetes would.</summary>
public sealed class HealthTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Readiness_Is503UntilTheSiloJoinsItsCluster_Then200_WhileLivenessIs200Throughout()
    {
        using var redis = RedisServer.Start();
        var clusterId = "health-" + Guid.NewGuid().ToString("N")[..8];

        // Hold the silo back from joining, for as long as the test likes: a membership row that
        // cannot be read makes the silo's first read of the table fail, and Orleans retries it.
        await using var store = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var membership = new RedisKey($"{clusterId}/members/{clusterId}");
        await store.GetDatabase().HashSetAsync(membership, "unreadable", "not a membership entry");

        var healthPort = ProgramProcess.FreePort();
        using var silo = ProgramProcess.Start("silo", "--clustering", "Redis", "--redis", redis.ConnectionString, "--cluster-id", clusterId,
            "--silo-port", ProgramProcess.FreePort().ToString(), "--gateway-port", ProgramProcess.FreePort().ToString(),
            "--dashboard-port", "0", "--health-port", healthPort.ToString());
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{healthPort}"), Timeout = TimeSpan.FromSeconds(10) };

        // Polled from the process's start: nothing listens at first, then the health server answers.
        HttpResponseMessage? first = null;
        await Eventually.WaitUntil(async () =>
        {
            first = await TryGetAsync(http, "/health/ready");
            return first is not null || silo.HasExited;
        }, "the health endpoint to answer", StartTimeout);
        Assert.False(silo.HasExited, $"the silo exited: {string.Join(" | ", silo.Stderr.Concat(silo.Stdout))}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, first!.StatusCode);
        Assert.StartsWith("Unhealthy: the silo is ", await first.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/health/ready")).StatusCode);
        Assert.DoesNotContain(silo.Stdout, l => l.Contains("OrleansBroker silo ready"));

        // Let it join: readiness turns 200 once the silo is Active.
        await store.GetDatabase().HashDeleteAsync(membership, "unreadable");
        await Eventually.WaitUntil(async () => (await TryGetAsync(http, "/health/ready"))?.StatusCode == HttpStatusCode.OK,
            "readiness to answer 200", StartTimeout);
        var ready = await http.GetAsync("/health/ready");
        Assert.Equal("Healthy: the silo is Active in its cluster\n", await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);

        // The health port serves the probes and nothing else.
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/")).StatusCode);
    }

    /// <summary>The answer, or null while nothing listens.</summary>
    private static async Task<HttpResponseMessage?> TryGetAsync(HttpClient http, string path)
    {
        try
        {
            return await http.GetAsync(path);
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}
