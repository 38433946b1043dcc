using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace OrleansBroker.Diagnostics;

/// <summary>
/// The library's one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named
/// <c>OrleansBroker</c>, and its instruments, named as the OpenTelemetry messaging conventions name
/// them. System.Diagnostics only: OpenTelemetry (or any listener) subscribes by name, so the library
/// depends on no exporter.
/// </summary>
internal static class BrokerTelemetry
{
    public const string Name = "OrleansBroker";

    private static readonly string? Version = typeof(BrokerTelemetry).Assembly.GetName().Version?.ToString();

    public static readonly ActivitySource Source = new(Name, Version);

    public static readonly Meter Meter = new(Name, Version);

    /// <summary>Messages handed to the broker by PublishAsync, with <c>error.type</c> when the broker could not take them.</summary>
    public static readonly Counter<long> SentMessages = Meter.CreateCounter<long>(
        "messaging.client.sent.messages", "{message}", "Messages handed to the broker.");

    /// <summary>Messages given to a handler, with <c>error.type</c> when the handler failed.</summary>
    public static readonly Counter<long> ConsumedMessages = Meter.CreateCounter<long>(
        "messaging.client.consumed.messages", "{message}", "Messages delivered to a handler.");

    /// <summary>How long handlers ran, in seconds.</summary>
    public static readonly Histogram<double> ProcessDuration = Meter.CreateHistogram(
        "messaging.process.duration", "s", "Duration of handling one message.",
        advice: new InstrumentAdvice<double>
        {
            // The buckets the messaging conventions recommend for their duration histograms.
            HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
        });

    /// <summary>Marks a span failed the way OpenTelemetry reads it: status Error, <c>error.type</c> and an exception event.</summary>
    public static void Fail(Activity activity, Exception error)
    {
        activity.SetStatus(ActivityStatusCode.Error, error.Message);
        activity.SetTag(MessagingAttributes.ErrorType, ErrorType(error));
        activity.AddException(error);
    }

    /// <summary>
    /// The <c>error.type</c> of a failure: a broker error's code (few values, as a metric tag needs),
    /// else the exception's type.
    /// </summary>
    public static string ErrorType(Exception error) =>
        error is BrokerException broker ? broker.Code.ToString() : error.GetType().FullName ?? error.GetType().Name;
}
