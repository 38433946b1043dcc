using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;
using OrleansBroker.Internal;

namespace OrleansBroker.Cli;

/// <summary>
/// How the client reads its option values: each a custom parser that reports bad input as one line
/// naming the option and the value, so the user sees what to fix and nothing else.
/// </summary>
internal static class OptionValues
{
    /// <summary>Every --gateway host:port given.</summary>
    public static List<DnsEndPoint> Gateways(ArgumentResult result)
    {
        var gateways = new List<DnsEndPoint>();
        foreach (var token in result.Tokens)
        {
            var value = token.Value;
            var colon = value.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(value[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                result.AddError($"--gateway wants host:port, not '{value}'");
                return gateways;
            }

            gateways.Add(new DnsEndPoint(value[..colon].Trim('[', ']'), port));
        }

        return gateways;
    }

    /// <summary>Every --header key=value given, the last one winning for a key, the keys held to the broker's rules.</summary>
    public static Dictionary<string, string> Header(ArgumentResult result)
    {
        var header = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var token in result.Tokens)
        {
            var eq = token.Value.IndexOf('=');
            if (eq <= 0)
            {
                result.AddError($"--header wants key=value, not '{token.Value}'");
                return header;
            }

            header[token.Value[..eq]] = token.Value[(eq + 1)..];
        }

        try
        {
            Validation.ValidateMessage(new Message(ReadOnlyMemory<byte>.Empty, header), int.MaxValue);
        }
        catch (BrokerException ex)
        {
            result.AddError(ex.Message);
        }

        return header;
    }

    /// <summary>An option that wants a whole number of at least 1, named in its error.</summary>
    public static Func<ArgumentResult, long?> Positive(string option) => result =>
    {
        var text = result.Tokens.Single().Value;
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0)
        {
            return value;
        }

        result.AddError($"{option} wants a positive number, not '{text}'");
        return null;
    };

    /// <summary>An option that wants a positive duration: 500ms, 30s, 2m, or hh:mm:ss.</summary>
    public static Func<ArgumentResult, TimeSpan?> Duration(string option) => result =>
    {
        var text = result.Tokens.Single().Value;
        var (number, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], TimeSpan.FromMilliseconds(1))
            : text.EndsWith('s') ? (text[..^1], TimeSpan.FromSeconds(1))
            : text.EndsWith('m') ? (text[..^1], TimeSpan.FromMinutes(1))
            : (null, TimeSpan.Zero);
        TimeSpan? duration = number is not null
            ? double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n) && n * unit.TotalSeconds < TimeSpan.MaxValue.TotalSeconds ? n * unit : null
            : TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
        if (duration > TimeSpan.Zero)
        {
            return duration;
        }

        result.AddError($"{option} wants a positive duration (500ms, 30s, 2m or hh:mm:ss), not '{text}'");
        return null;
    };

    /// <summary>A --rate: messages per second, more than 0, fractions allowed.</summary>
    public static double? Rate(ArgumentResult result)
    {
        var text = result.Tokens.Single().Value;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate > 0 && double.IsFinite(rate))
        {
            return rate;
        }

        result.AddError($"--rate wants a positive number of messages per second, not '{text}'");
        return null;
    }

    /// <summary>Adds the broker's own error for <paramref name="check"/>'s value, so bad input never needs a silo to be refused.</summary>
    public static void Check(SymbolResult result, Action check)
    {
        try
        {
            check();
        }
        catch (BrokerException ex)
        {
            result.AddError(ex.Message);
        }
    }
}
