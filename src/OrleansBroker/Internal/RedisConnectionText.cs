using System.Net;

namespace OrleansBroker.Internal;

/// <summary>
/// A Redis connection string (StackExchange.Redis syntax) told to people: its endpoints, never its
/// user or password. The library does not reference StackExchange.Redis, so the programs pass its parser in.
/// </summary>
internal static class RedisConnectionText
{
    private const string Hidden = "*****";

    /// <summary>The first thing wrong with <paramref name="connectionString"/>, in one line and without its secrets, or null.</summary>
    public static string? Problem(string setting, string connectionString, Func<string, IReadOnlyCollection<EndPoint>> endpointsOf)
    {
        IReadOnlyCollection<EndPoint> endpoints;
        try
        {
            endpoints = endpointsOf(connectionString);
        }
        catch (ArgumentException ex)
        {
            // StackExchange.Redis names the keyword and echoes the value it refused, which may be the password.
            var why = ErrorText.FirstLine(ex);
            why = ex.ParamName is null ? why : why.Replace($" (Parameter '{ex.ParamName}')", "", StringComparison.Ordinal);
            return $"{setting} is not a valid Redis connection string: {Redact(why, connectionString)}";
        }

        if (endpoints.Count == 0)
        {
            return $"{setting} names no Redis endpoint (host:port)";
        }

        // A URL such as redis://user:password@host parses as one odd host name: say so without echoing it.
        if (endpoints.Any(e => e is DnsEndPoint dns && Uri.CheckHostName(dns.Host) == UriHostNameType.Unknown))
        {
            return $"{setting} names a Redis endpoint that is not host:port (URLs are not supported)";
        }

        return null;
    }

    /// <summary>"host:port, host:port": where the store is, which is all an error or a log line needs.</summary>
    public static string Describe(IEnumerable<EndPoint> endpoints) =>
        string.Join(", ", endpoints.Select(e => e switch
        {
            DnsEndPoint { Port: 0 } dns => dns.Host,
            DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
            _ => e.ToString(),
        }));

    /// <summary><paramref name="text"/> with every user name and password in <paramref name="connectionString"/> replaced.</summary>
    public static string Redact(string text, string connectionString)
    {
        foreach (var secret in SecretsIn(connectionString))
        {
            text = text.Replace(secret, Hidden, StringComparison.Ordinal);
        }

        return text;
    }

    // Read by hand, not by the parser: the string being redacted is often one the parser refused.
    private static IEnumerable<string> SecretsIn(string connectionString) =>
        connectionString.Split(',')
            .Select(option => option.Split('=', 2))
            .Where(pair => pair.Length == 2 && pair[1].Trim().Length > 0
                && (pair[0].Trim().Equals("password", StringComparison.OrdinalIgnoreCase) || pair[0].Trim().Equals("user", StringComparison.OrdinalIgnoreCase)))
            .Select(pair => pair[1].Trim())
            .OrderByDescending(secret => secret.Length);
}
