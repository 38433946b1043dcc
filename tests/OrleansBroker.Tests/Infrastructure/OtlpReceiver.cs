using System.Collections.Concurrent;
using System.Net;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A small OTLP/HTTP receiver for tests: accepts POST /v1/traces and /v1/metrics with protobuf
/// bodies on a free loopback port, keeps what it got (<see cref="OtlpExport"/> reads it), and
/// answers each with an empty success. Stopped when disposed.
/// </summary>
public sealed class OtlpReceiver : IDisposable
{
    private readonly HttpListener _listener;
    private readonly ConcurrentQueue<(string Path, byte[] Body)> _requests = new();
    private readonly Task _serving;

    private OtlpReceiver(HttpListener listener, int port)
    {
        _listener = listener;
        Endpoint = $"http://127.0.0.1:{port}";
        _serving = Task.Run(ServeAsync);
    }

    /// <summary>What OTEL_EXPORTER_OTLP_ENDPOINT should say.</summary>
    public string Endpoint { get; }

    public IReadOnlyList<OtlpSpan> Spans => _requests.Where(r => r.Path == "/v1/traces").SelectMany(r => OtlpExport.ReadSpans(r.Body)).ToList();

    public IReadOnlyList<OtlpMetric> Metrics => _requests.Where(r => r.Path == "/v1/metrics").SelectMany(r => OtlpExport.ReadMetrics(r.Body)).ToList();

    /// <summary>The standard variables that point an OpenTelemetry SDK here, exporting often.</summary>
    public IReadOnlyDictionary<string, string?> Environment => new Dictionary<string, string?>
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Endpoint,
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
        ["OTEL_SERVICE_NAME"] = null,
    };

    public static OtlpReceiver Start()
    {
        // A port free a moment ago may be taken by the time the listener binds: try a few.
        for (var attempt = 0; ; attempt++)
        {
            var port = ProgramProcess.FreePort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return new OtlpReceiver(listener, port);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }

    public void Dispose()
    {
        _listener.Close();
        _serving.Wait(TimeSpan.FromSeconds(10));
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            _requests.Enqueue((context.Request.Url!.AbsolutePath, body.ToArray()));

            // An empty Export*ServiceResponse: everything accepted.
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }
}
