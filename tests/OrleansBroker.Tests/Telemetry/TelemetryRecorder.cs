using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Telemetry;

/// <summary>
/// Records the OrleansBroker spans and measurements of the topics one test names, and nothing else.
/// Listeners are process-global and other tests run beside this one: spans of other topics are not
/// even sampled (so no traceparent reaches other tests' messages), and their measurements are ignored.
/// </summary>
public sealed class TelemetryRecorder : IDisposable
{
    /// <summary>Stands for the application that publishes: its spans are the callers' context.</summary>
    public static readonly ActivitySource Caller = new(CallerName);

    private const string CallerName = "OrleansBroker.Tests.Caller";

    private readonly ConcurrentDictionary<string, byte> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ConcurrentQueue<Measurement> _measurements = new();
    private readonly ActivityListener _activityListener;
    private readonly MeterListener _meterListener;

    public TelemetryRecorder()
    {
        _activityListener = new ActivityListener
        {
            // By name: the first test to run makes Caller while this asks, before the field is assigned.
            ShouldListenTo = source => source.Name is "OrleansBroker" or CallerName,
            Sample = Sample,
            ActivityStopped = activity =>
            {
                if (activity.Source.Name == "OrleansBroker" && IsRecorded(activity.GetTagItem("messaging.destination.name") as string))
                {
                    _spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(_activityListener);

        _meterListener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "OrleansBroker")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _meterListener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _meterListener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _meterListener.Start();
    }

    /// <summary>A new topic whose telemetry this recorder samples and keeps.</summary>
    public string Topic(string name)
    {
        var topic = Topics.Unique("telemetry." + name);
        _topics[topic] = 0;
        return topic;
    }

    public IReadOnlyList<Activity> Spans => _spans.ToArray();

    public async Task<Activity> WaitForSpan(string displayName)
    {
        await Eventually.WaitUntil(() => _spans.Any(s => s.DisplayName == displayName), $"span '{displayName}'");
        return _spans.Single(s => s.DisplayName == displayName);
    }

    /// <summary>The sum of one instrument's measurements (for a histogram: how many were recorded) matching every tag given.</summary>
    public double Sum(string instrument, params (string Key, string? Value)[] tags) =>
        Matching(instrument, tags).Sum(m => m.Value);

    public int Count(string instrument, params (string Key, string? Value)[] tags) => Matching(instrument, tags).Count();

    public IReadOnlyList<Measurement> Measurements(string instrument) => _measurements.Where(m => m.Instrument == instrument).ToList();

    public void Dispose()
    {
        _activityListener.Dispose();
        _meterListener.Dispose();
    }

    private ActivitySamplingResult Sample(ref ActivityCreationOptions<ActivityContext> options)
    {
        if (options.Source.Name == CallerName)
        {
            return ActivitySamplingResult.AllDataAndRecorded;
        }

        // "publish {topic}" / "process {topic}"
        var space = options.Name.IndexOf(' ');
        return space > 0 && IsRecorded(options.Name[(space + 1)..]) ? ActivitySamplingResult.AllDataAndRecorded : ActivitySamplingResult.None;
    }

    private bool IsRecorded(string? topic) => topic is not null && _topics.ContainsKey(topic);

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (key, tagValue) in tags)
        {
            copy[key] = tagValue?.ToString();
        }

        if (IsRecorded(copy.GetValueOrDefault("messaging.destination.name")))
        {
            _measurements.Enqueue(new Measurement(instrument.Name, instrument.Unit, value, copy));
        }
    }

    private IEnumerable<Measurement> Matching(string instrument, (string Key, string? Value)[] tags) =>
        _measurements.Where(m => m.Instrument == instrument && tags.All(t => m.Tags.GetValueOrDefault(t.Key) == t.Value));

    public sealed record Measurement(string Instrument, string? Unit, double Value, IReadOnlyDictionary<string, string?> Tags);
}
