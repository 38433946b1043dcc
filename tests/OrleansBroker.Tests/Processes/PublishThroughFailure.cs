using System.Text.RegularExpressions;
using OrleansBroker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Processes;

/// <summary>
/// Publishes numbered messages at a steady rate to a topic with one subscriber, each through a client process,
/// does a failure to a silo after three seconds of messages, and counts what arrived: the measurement behind
/// docs/failures.md.
/// </summary>
public static partial class PublishThroughFailure
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    /// <param name="cluster">The cluster to publish through.</param>
    /// <param name="topic">A topic of its own.</param>
    /// <param name="fail">What to do to the victim: kill it, or stop it gracefully.</param>
    /// <param name="killTopicHost">True: the victim is the silo hosting the topic; false: another silo (a gateway).</param>
    /// <param name="rate">Messages per second.</param>
    /// <param name="seconds">How long to publish for.</param>
    /// <param name="settle">
    /// The subscriber is taken to have everything it will get once it has been silent this long after the publisher
    /// finished: longer than a subscriber grain waits before it sends an unanswered delivery again, twice over.
    /// </param>
    /// <param name="output">Where the run's figures and any out-of-order report go.</param>
    public static async Task<FailureRun> RunAsync(ProcessCluster cluster, string topic, Action<ProgramProcess> fail, bool killTopicHost,
        int rate, int seconds, TimeSpan settle, ITestOutputHelper output)
    {
        var count = seconds * rate;
        using var sub = cluster.Client("sub", topic);
        await sub.WaitForLine(l => l.StartsWith("subscribed"), "the subscription", StartTimeout);

        // Where the topic lives is asked before publishing starts: asking takes a client process, whose
        // start can take seconds on a busy machine, and the failure must come while messages still flow.
        var host = (await cluster.Topic(topic)).Host!;
        var victim = killTopicHost ? cluster.SiloAt(host) : cluster.SiloOtherThan(host);

        using var pub = cluster.Client("pub", topic, "m-{n}", "--count", count.ToString(), "--rate", rate.ToString(), "--latency");
        await Eventually.WaitUntil(() => sub.Stdout.Count >= 3 * rate, "three seconds of messages", StartTimeout);
        if (pub.HasExited)
        {
            throw new InvalidOperationException("The publisher had finished before the failure came.");
        }

        var lastBefore = sub.TimedStdout.Count;
        var failedAt = DateTime.UtcNow;
        fail(victim);

        await pub.WaitForExitAsync(TimeSpan.FromSeconds(seconds + 120));
        var summary = string.Join("\n", pub.Stdout);
        var accepted = Accepted(pub);
        var longestPublish = TimeSpan.FromMilliseconds(double.Parse(LongestPattern().Match(summary).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        var received = sub.TimedStdout;
        await Eventually.WaitUntil(() =>
        {
            var now = sub.TimedStdout;
            received = now;
            return now.Count >= accepted || (now.Count > 0 && DateTime.UtcNow - now[^1].At > settle);
        }, "the subscriber to settle", settle + TimeSpan.FromSeconds(90));

        var numbers = received.Select(r => int.Parse(r.Line[2..])).ToList();
        var afterFailure = received.Skip(lastBefore).Where(r => r.At > failedAt).ToList();
        var firstAfter = afterFailure.Count > 0 ? afterFailure[0].At - failedAt : TimeSpan.MaxValue;
        var longestGap = received.Zip(received.Skip(1), (a, b) => b.At - a.At).DefaultIfEmpty().Max();
        var run = new FailureRun(
            Accepted: accepted,
            Failed: count - accepted,
            Received: numbers.Count,
            Duplicates: numbers.Count - numbers.Distinct().Count(),
            OutOfOrder: numbers.Zip(numbers.Skip(1)).Count(p => p.Second < p.First),
            Lost: accepted - numbers.Distinct().Count(),
            ReceivedAfterHeal: afterFailure.Count,
            LongestGap: longestGap,
            LongestPublish: longestPublish);
        output.WriteLine($"{topic}: {run}; first delivery {firstAfter.TotalSeconds:0.00} s after the failure; at {rate} msg/s");
        output.WriteLine($"{topic}: {pub.Stdout.LastOrDefault()}");
        foreach (var line in OutOfOrderReport(received, numbers, failedAt))
        {
            output.WriteLine($"{topic}: {line}");
        }

        return run;
    }

    /// <summary>How many messages a finished <c>client pub</c> says were accepted.</summary>
    public static long Accepted(ProgramProcess pub) =>
        long.Parse(AcceptedPattern().Match(string.Join("\n", pub.Stdout)).Groups[1].Value);

    /// <summary>
    /// Each place where a number came after a larger one: the two numbers, when each was read relative to the failure,
    /// how many later messages overtook it and the numbers around it, so that a failed order assertion says which
    /// messages moved and how far.
    /// </summary>
    private static IEnumerable<string> OutOfOrderReport(IReadOnlyList<(DateTime At, string Line)> received, List<int> numbers, DateTime failedAt)
    {
        for (var i = 1; i < numbers.Count; i++)
        {
            if (numbers[i] >= numbers[i - 1])
            {
                continue;
            }

            var overtakenBy = numbers.Take(i).Count(n => n > numbers[i]);
            var around = numbers.Skip(Math.Max(0, i - 8)).Take(16).Select((n, k) => Math.Max(0, i - 8) + k == i ? $"[{n}]" : n.ToString());
            yield return $"out of order at #{i}: m-{numbers[i]} ({(received[i].At - failedAt).TotalSeconds:0.000} s after the failure) "
                + $"came after m-{numbers[i - 1]} ({(received[i - 1].At - failedAt).TotalSeconds:0.000} s), "
                + $"overtaken by {overtakenBy} later message(s); around it: {string.Join(' ', around)}";
        }
    }

    [GeneratedRegex(@"published (\d+) message")]
    private static partial Regex AcceptedPattern();

    [GeneratedRegex(@"longest ([\d.]+) ms")]
    private static partial Regex LongestPattern();
}

/// <summary>What one run through a failure delivered.</summary>
/// <param name="LongestPublish">The longest time from a PublishAsync call to its completion.</param>
public sealed record FailureRun(long Accepted, long Failed, long Received, long Duplicates, long OutOfOrder, long Lost,
    long ReceivedAfterHeal, TimeSpan LongestGap, TimeSpan LongestPublish);
