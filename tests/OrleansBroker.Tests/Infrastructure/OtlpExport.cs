namespace OrleansBroker.Tests.Infrastructure;

/// <summary>A span as an OTLP export carried it: who sent it (service.name), from which source, and its place in its trace.</summary>
public sealed record OtlpSpan(string Service, string Scope, string Name, string TraceId, string SpanId, string ParentSpanId);

/// <summary>A metric as an OTLP export carried it: who sent it (service.name), from which meter, and its name.</summary>
public sealed record OtlpMetric(string Service, string Scope, string Name);

/// <summary>
/// Reads the few fields the tests look at from OTLP's protobuf messages
/// (opentelemetry/proto/collector/{trace,metrics}/v1), by field number, with no generated code:
/// Export*ServiceRequest.resource_* = 1; Resource* .resource = 1, .scope_* = 2; Scope* .scope = 1,
/// .spans / .metrics = 2; Resource.attributes = 1; KeyValue .key = 1, .value = 2 (AnyValue.string_value = 1);
/// InstrumentationScope.name = 1; Span .trace_id = 1, .span_id = 2, .parent_span_id = 4, .name = 5; Metric.name = 1.
/// </summary>
public static class OtlpExport
{
    public static IEnumerable<OtlpSpan> ReadSpans(byte[] request) =>
        from resourceSpans in Fields(request, 1)
        let service = ServiceName(Fields(resourceSpans, 1).FirstOrDefault())
        from scopeSpans in Fields(resourceSpans, 2)
        let scope = Text(Fields(scopeSpans, 1).FirstOrDefault(), 1)
        from span in Fields(scopeSpans, 2)
        select new OtlpSpan(service, scope, Text(span, 5), Hex(span, 1), Hex(span, 2), Hex(span, 4));

    public static IEnumerable<OtlpMetric> ReadMetrics(byte[] request) =>
        from resourceMetrics in Fields(request, 1)
        let service = ServiceName(Fields(resourceMetrics, 1).FirstOrDefault())
        from scopeMetrics in Fields(resourceMetrics, 2)
        let scope = Text(Fields(scopeMetrics, 1).FirstOrDefault(), 1)
        from metric in Fields(scopeMetrics, 2)
        select new OtlpMetric(service, scope, Text(metric, 1));

    private static string ServiceName(byte[]? resource) =>
        Fields(resource ?? [], 1).Where(kv => Text(kv, 1) == "service.name").Select(kv => Text(Fields(kv, 2).FirstOrDefault(), 1)).FirstOrDefault() ?? "";

    private static string Text(byte[]? message, int field) =>
        message is null ? "" : Fields(message, field).Select(b => System.Text.Encoding.UTF8.GetString(b)).FirstOrDefault() ?? "";

    private static string Hex(byte[] message, int field) => Convert.ToHexString(Fields(message, field).FirstOrDefault() ?? []);

    /// <summary>The length-delimited values of <paramref name="field"/> in <paramref name="message"/>, skipping every other field.</summary>
    private static List<byte[]> Fields(byte[] message, int field)
    {
        var values = new List<byte[]>();
        var at = 0;
        while (at < message.Length)
        {
            var tag = Varint(message, ref at);
            var (number, wireType) = ((int)(tag >> 3), (int)(tag & 7));
            switch (wireType)
            {
                case 0:
                    Varint(message, ref at);
                    break;
                case 1:
                    at += 8;
                    break;
                case 2:
                    var length = (int)Varint(message, ref at);
                    if (number == field)
                    {
                        values.Add(message[at..(at + length)]);
                    }

                    at += length;
                    break;
                case 5:
                    at += 4;
                    break;
                default:
                    throw new InvalidDataException($"Protobuf wire type {wireType} at {at} is not one OTLP uses.");
            }
        }

        return values;
    }

    private static ulong Varint(byte[] message, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = message[at++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }
}
