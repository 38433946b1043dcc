using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using OrleansBroker.Internal;
using StackExchange.Redis;

namespace OrleansBroker.Cli;

/// <summary>
/// The options every command shares, declared once and given to the root command as recursive
/// options: where the cluster is (--gateway, or --redis with --cluster-id) and how to reach it (TLS).
/// The Redis and TLS ones fall back on the silo's own Broker__* environment variables.
/// </summary>
internal sealed class ConnectionOptions
{
    public ConnectionOptions(Func<string, string?> environment)
    {
        string? FromEnvironment(string name) => string.IsNullOrWhiteSpace(environment(name)) ? null : environment(name);

        Gateway = new("--gateway")
        {
            Description = "A silo's gateway, host:port (repeatable). Default: localhost:30000",
            HelpName = "host:port",
            CustomParser = OptionValues.Gateways,
            Arity = ArgumentArity.OneOrMore,
            Recursive = true,
        };
        Redis = new("--redis")
        {
            Description = "Find the silos through Redis membership at this connection string, as silos started with --clustering Redis do [env: Broker__Redis]",
            HelpName = "connection",
            DefaultValueFactory = _ => FromEnvironment("Broker__Redis"),
            Recursive = true,
        };
        ClusterId = new("--cluster-id")
        {
            Description = "The silos' cluster id [env: Broker__ClusterId]",
            HelpName = "id",
            DefaultValueFactory = _ => FromEnvironment("Broker__ClusterId") ?? ClusterDefaults.ClusterId,
            Recursive = true,
        };
        Tls = new("--tls")
        {
            Description = "Connect over TLS, checking the silo's certificate against the system's roots and the gateway's host name",
            Recursive = true,
        };
        TlsCa = new("--tls-ca")
        {
            Description = "Connect over TLS; the silos' certificates must chain to the CA certificates in this PEM file [env: Broker__TlsCa]",
            HelpName = "file",
            DefaultValueFactory = _ => FromEnvironment("Broker__TlsCa"),
            Recursive = true,
        };
        TlsCertificate = new("--tls-cert")
        {
            Description = "Connect over TLS, showing this certificate and key (.pfx) to silos that require one [env: Broker__TlsCertificate]",
            HelpName = "file.pfx",
            DefaultValueFactory = _ => FromEnvironment("Broker__TlsCertificate"),
            Recursive = true,
        };
        TlsCertificatePassword = new("--tls-cert-password")
        {
            Description = "The password of --tls-cert [env: Broker__TlsCertificatePassword]",
            HelpName = "password",
            DefaultValueFactory = _ => FromEnvironment("Broker__TlsCertificatePassword"),
            Recursive = true,
        };
        Redis.Validators.Add(CheckRedis);
    }

    public Option<List<DnsEndPoint>> Gateway { get; }

    public Option<string?> Redis { get; }

    public Option<string> ClusterId { get; }

    public Option<bool> Tls { get; }

    public Option<string?> TlsCa { get; }

    public Option<string?> TlsCertificate { get; }

    public Option<string?> TlsCertificatePassword { get; }

    /// <summary>Adds the options to <paramref name="root"/>, for it and every command under it.</summary>
    public void AddTo(RootCommand root)
    {
        foreach (var option in new Option[] { Gateway, Redis, ClusterId, Tls, TlsCa, TlsCertificate, TlsCertificatePassword })
        {
            root.Options.Add(option);
        }
    }

    /// <summary>The checks that span options; a validator for each command, where the values of all of them are known.</summary>
    public void Validate(CommandResult result)
    {
        var redis = result.GetValue(Redis);
        if (redis is not null && result.GetResult(Gateway) is { Implicit: false })
        {
            result.AddError("give --gateway or --redis, not both");
        }
        else if (redis is not null && IsTls(result) && result.GetValue(TlsCa) is null)
        {
            // Silos found through Redis are known by address only: no host name to check a certificate against.
            result.AddError("TLS with --redis needs --tls-ca (the CA the silos' certificates chain to)");
        }
    }

    /// <summary>The settings <paramref name="result"/> gives; call only on a result without errors.</summary>
    public ConnectionSettings Bind(ParseResult result)
    {
        var gateways = result.GetValue(Gateway) ?? [];
        return new ConnectionSettings
        {
            Gateways = gateways.Count > 0 ? gateways : new ConnectionSettings().Gateways,
            Redis = result.GetValue(Redis),
            ClusterId = result.GetRequiredValue(ClusterId),
            Tls = IsTls(result.RootCommandResult),
            TlsCa = result.GetValue(TlsCa),
            TlsCertificate = result.GetValue(TlsCertificate),
            TlsCertificatePassword = result.GetValue(TlsCertificatePassword),
        };
    }

    private bool IsTls(SymbolResult result) =>
        result.GetValue(Tls) || result.GetValue(TlsCa) is not null || result.GetValue(TlsCertificate) is not null;

    private static void CheckRedis(OptionResult result)
    {
        // Named as the user gave it: the flag, or the silo's environment variable it fell back on.
        var source = result.Implicit ? "Broker__Redis" : "--redis";
        if (result.GetValueOrDefault<string?>() is { } redis
            && RedisConnectionText.Problem(source, redis, r => ConfigurationOptions.Parse(r).EndPoints) is { } problem)
        {
            result.AddError(problem);
        }
    }
}
