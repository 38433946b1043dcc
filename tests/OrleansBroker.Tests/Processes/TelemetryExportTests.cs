using OrleansBroker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Processes;

/// <summary>The silo and client programs exporting traces and metrics over OTLP, to a receiver the test runs.</summary>
public sealed class TelemetryExportTests(ITestOutputHelper output)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task WithTheOtlpEndpointSet_SiloAndClientsExportSpansAndMetrics_AndOneTraceRunsFromPublisherToHandler()
    {
        using var receiver = OtlpReceiver.Start();
        var gatewayPort = ProgramProcess.FreePort().ToString();
        var gateway = $"127.0.0.1:{gatewayPort}";
        using var silo = ProgramProcess.Start("silo", receiver.Environment, "--silo-port", ProgramProcess.FreePort().ToString(),
            "--gateway-port", gatewayPort, "--dashboard-port", "0");
        await silo.WaitForLine(l => l.Contains("OrleansBroker silo ready"), "the silo to be ready", StartTimeout);

        using var sub = ProgramProcess.Start("client", receiver.Environment, "--gateway", gateway, "sub", "traced", "--count", "1");
        await sub.WaitForLine(l => l.StartsWith("subscribed to traced"), "the subscription", StartTimeout);
        var pub = await ProgramProcess.RunAsync("client", receiver.Environment, RunTimeout, "--gateway", gateway, "pub", "traced", "hello");
        Assert.Equal(0, pub.ExitCode);
        await sub.WaitForExitAsync(RunTimeout);
        Assert.Equal(["hello"], sub.Stdout);

        // Both clients flushed on their way out; the silo exports every half second, each span when it ends: its
        // call to the subscriber's observer ends after the Deliver span, and may come in a later export.
        await Eventually.WaitUntil(() => receiver.Spans.Any(s => s.Service == Silo && s.Name == "ISubscriberGrain/Deliver")
            && receiver.Spans.Any(s => s.Service == Silo && s.Name == "IMessageObserver/OnMessages")
            && receiver.Metrics.Any(m => m.Service == Silo), "the silo's spans and metrics", TimeSpan.FromSeconds(30));
        var spans = receiver.Spans;
        var metrics = receiver.Metrics;
        output.WriteLine($"{spans.Count} spans, {metrics.Count} metric points");

        // One trace from the publisher's process through the silo's grains to the subscriber's handler.
        var publish = Assert.Single(spans, s => s is { Service: Client, Scope: "OrleansBroker", Name: "publish traced" });
        var trace = spans.Where(s => s.TraceId == publish.TraceId).ToList();
        Assert.Equal("", publish.ParentSpanId);
        var process = Assert.Single(trace, s => s is { Service: Client, Scope: "OrleansBroker", Name: "process traced" });
        Assert.Equal(publish.SpanId, process.ParentSpanId);
        Assert.Contains(trace, s => s is { Service: Client, Name: "ITopicGrain/Publish" });
        Assert.Contains(trace, s => s is { Service: Silo, Name: "ITopicGrain/Publish" });
        Assert.Contains(trace, s => s is { Service: Silo, Name: "ISubscriberGrain/Deliver" });
        Assert.Contains(trace, s => s is { Service: Silo, Name: "IMessageObserver/OnMessages" });
        Assert.Contains(trace, s => s is { Service: Client, Name: "IMessageObserver/OnMessages" });

        // Metrics: the broker's own from the clients, Orleans' from the clients and the silo.
        Assert.All(new[] { "messaging.client.sent.messages", "messaging.client.consumed.messages", "messaging.process.duration" },
            name => Assert.Contains(metrics, m => m is { Service: Client, Scope: "OrleansBroker" } && m.Name == name));
        Assert.Contains(metrics, m => m is { Service: Client, Scope: "Microsoft.Orleans" });
        Assert.Contains(metrics, m => m is { Service: Silo, Scope: "Microsoft.Orleans", Name: "orleans-gateway-received" });
    }

    private const string Silo = "orleansbroker-silo";
    private const string Client = "orleansbroker-client";
}
