using System.Net;
using OrleansBroker.Internal;
using StackExchange.Redis;

namespace OrleansBroker.Cli;

/// <summary>A command line the client understood, or the one-line reason it did not.</summary>
internal sealed record CommandLine
{
    public const string Usage = """
        usage: client [--gateway host:port]... [--redis CONNECTION [--cluster-id ID]] [TLS] COMMAND
          pub TOPIC BODY [--header k=v]... [--count N] [--rate R]
                                                         publish BODY (N times, R per second; {n} in BODY becomes 1..N)
          sub TOPIC [--queue Q] [--count N] [--headers]  print messages as they arrive
          topics                                         list topics and their figures
        The default gateway is localhost:30000. With --redis (or Broker__Redis in the environment)
        the client finds the silos through Redis membership, as silos started with --clustering Redis do.
        TLS: --tls, or --tls-ca FILE (the CA the silos' certificates chain to; default: the system's roots),
          with --tls-cert FILE.pfx [--tls-cert-password PASSWORD] for silos that require a client certificate.
          Each can come from the environment as the silo's: Broker__TlsCa, Broker__TlsCertificate,
          Broker__TlsCertificatePassword.
        """;

    public required string Command { get; init; }
    public string Topic { get; init; } = "";
    public string Body { get; init; } = "";
    public Dictionary<string, string> Header { get; init; } = new(StringComparer.Ordinal);
    public long? Count { get; init; }

    /// <summary>Messages per second for pub; null: as fast as the broker takes them.</summary>
    public double? Rate { get; init; }
    public string? Queue { get; init; }
    public bool ShowHeaders { get; init; }
    public List<DnsEndPoint> Gateways { get; init; } = [];

    /// <summary>Find the cluster through Redis membership at this connection string instead of fixed gateways.</summary>
    public string? Redis { get; init; }

    public string ClusterId { get; init; } = "orleansbroker";

    /// <summary>Connect to the gateways over TLS; set by any of the TLS options.</summary>
    public bool Tls { get; init; }

    /// <summary>The client's own certificate and key (PKCS#12), for silos that require one.</summary>
    public string? TlsCertificate { get; init; }

    /// <summary>The password of <see cref="TlsCertificate"/>. Never shown.</summary>
    public string? TlsCertificatePassword { get; init; }

    /// <summary>The CA (or self-signed) certificates the silos' certificates must chain to; null: the system's roots and the gateway's host name.</summary>
    public string? TlsCa { get; init; }

    /// <summary>Parses <paramref name="args"/>; throws <see cref="UsageException"/> with a one-line message.</summary>
    public static CommandLine Parse(IReadOnlyList<string> args, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var redis = NullIfEmpty(environment("Broker__Redis"));
        var clusterId = NullIfEmpty(environment("Broker__ClusterId")) ?? "orleansbroker";
        var redisSource = redis is null ? "--redis" : "Broker__Redis";
        var tlsCertificate = NullIfEmpty(environment("Broker__TlsCertificate"));
        var tlsCertificatePassword = NullIfEmpty(environment("Broker__TlsCertificatePassword"));
        var tlsCa = NullIfEmpty(environment("Broker__TlsCa"));
        var tls = false;
        var positional = new List<string>();
        var gateways = new List<DnsEndPoint>();
        var header = new Dictionary<string, string>(StringComparer.Ordinal);
        long? count = null;
        double? rate = null;
        string? queue = null;
        var showHeaders = false;

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new UsageException($"{arg} needs a value");
            switch (arg)
            {
                case "--gateway":
                    gateways.Add(ParseEndpoint(Value()));
                    break;
                case "--header":
                    var pair = Value();
                    var eq = pair.IndexOf('=');
                    if (eq <= 0)
                    {
                        throw new UsageException($"--header wants key=value, not '{pair}'");
                    }

                    header[pair[..eq]] = pair[(eq + 1)..];
                    break;
                case "--count":
                    var text = Value();
                    count = long.TryParse(text, out var n) && n > 0 ? n : throw new UsageException($"--count wants a positive number, not '{text}'");
                    break;
                case "--rate":
                    var rateText = Value();
                    rate = double.TryParse(rateText, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var r) && r > 0
                        ? r
                        : throw new UsageException($"--rate wants a positive number of messages per second, not '{rateText}'");
                    break;
                case "--queue":
                    queue = Value();
                    break;
                case "--redis":
                    redis = Value();
                    redisSource = "--redis";
                    break;
                case "--tls":
                    tls = true;
                    break;
                case "--tls-cert":
                    tlsCertificate = Value();
                    break;
                case "--tls-cert-password":
                    tlsCertificatePassword = Value();
                    break;
                case "--tls-ca":
                    tlsCa = Value();
                    break;
                case "--cluster-id":
                    clusterId = Value();
                    break;
                case "--headers":
                    showHeaders = true;
                    break;
                case "-h" or "--help":
                    throw new UsageException("help");
                default:
                    if (arg.StartsWith("--", StringComparison.Ordinal))
                    {
                        throw new UsageException($"unknown option {arg}");
                    }

                    positional.Add(arg);
                    break;
            }
        }

        if (redis is not null && gateways.Count > 0)
        {
            throw new UsageException("give --gateway or --redis, not both");
        }

        if (redis is not null && RedisConnectionText.Problem(redisSource, redis, r => ConfigurationOptions.Parse(r).EndPoints) is { } redisProblem)
        {
            throw new UsageException(redisProblem);
        }

        tls |= tlsCertificate is not null || tlsCa is not null;

        // Silos found through Redis are known by address only: no host name to check a certificate against.
        if (tls && redis is not null && tlsCa is null)
        {
            throw new UsageException("TLS with --redis needs --tls-ca (the CA the silos' certificates chain to)");
        }

        if (gateways.Count == 0)
        {
            gateways.Add(new DnsEndPoint("localhost", 30000));
        }

        var command = positional.Count > 0 ? positional[0] : throw new UsageException("no command given (pub, sub or topics)", showUsage: true);
        var expected = command switch
        {
            "pub" => 3,
            "sub" => 2,
            "topics" => 1,
            _ => throw new UsageException($"unknown command '{command}' (pub, sub or topics)"),
        };
        if (positional.Count != expected)
        {
            throw new UsageException(command switch
            {
                "pub" => "pub wants TOPIC and BODY",
                "sub" => "sub wants one TOPIC",
                _ => "topics takes no arguments",
            });
        }

        var allowed = command switch
        {
            "pub" => queue is null && !showHeaders,
            "sub" => header.Count == 0 && rate is null,
            _ => queue is null && !showHeaders && header.Count == 0 && count is null && rate is null,
        };
        if (!allowed)
        {
            throw new UsageException($"an option given does not apply to {command}");
        }

        var line = new CommandLine
        {
            Command = command,
            Topic = positional.ElementAtOrDefault(1) ?? "",
            Body = positional.ElementAtOrDefault(2) ?? "",
            Header = header,
            Count = count,
            Rate = rate,
            Queue = queue,
            ShowHeaders = showHeaders,
            Gateways = gateways,
            Redis = redis,
            ClusterId = clusterId,
            Tls = tls,
            TlsCertificate = tlsCertificate,
            TlsCertificatePassword = tlsCertificatePassword,
            TlsCa = tlsCa,
        };
        line.Validate();
        return line;
    }

    /// <summary>Applies the broker's own rules to the topic, queue and header, so bad input never needs a silo to be refused.</summary>
    private void Validate()
    {
        try
        {
            if (Command != "topics")
            {
                Validation.ValidateTopic(Topic);
                Validation.ValidateQueue(Queue);
                Validation.ValidateMessage(Message.FromString(Body, Header), new BrokerOptions().MaxMessageBytes);
            }
        }
        catch (BrokerException ex)
        {
            throw new UsageException(ex.Message);
        }
    }

    /// <summary>The command and topic only: a record would print every property, passwords included.</summary>
    public override string ToString() => $"{nameof(CommandLine)} {{ Command = {Command}, Topic = {Topic} }}";

    /// <summary><paramref name="text"/> with the Redis user and password and the certificate's password hidden.</summary>
    public string Redact(string text)
    {
        text = RedisConnectionText.Redact(text, Redis ?? "");
        return string.IsNullOrEmpty(TlsCertificatePassword) ? text : text.Replace(TlsCertificatePassword, "*****", StringComparison.Ordinal);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static DnsEndPoint ParseEndpoint(string value)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value[(colon + 1)..], out var port) || port is < 1 or > 65535)
        {
            throw new UsageException($"--gateway wants host:port, not '{value}'");
        }

        return new DnsEndPoint(value[..colon].Trim('[', ']'), port);
    }
}

/// <summary>Bad input: the message is printed as one line, with exit code 2; the usage follows only when no command was given.</summary>
internal sealed class UsageException(string message, bool showUsage = false) : Exception(message)
{
    public bool ShowUsage { get; } = showUsage;
}
