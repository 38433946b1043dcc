using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;

namespace OrleansBroker.Benchmarks;

/// <summary>
/// The benchmark's command line, parsed by System.CommandLine as the client's is: the orchestrator's
/// options and those of the child roles it starts (--role silo|sub|pub|idle). Bad input is an
/// <see cref="ArgumentException"/> with one line.
/// </summary>
internal sealed class Arguments
{
    // Name and help text; the roles' options are the orchestrator's business, not the user's.
    private static readonly (string Name, string Help)[] Flags =
    [
        ("--quick", "fewer messages and shorter latency runs"),
        ("--durable-only", "only the durable (at-least-once) scenarios"),
        ("--testcluster", "ClusterBroker beside memory streams on one in-process TestCluster silo"),
        ("--tcp", "with --testcluster: over TCP"),
        ("--durable", "(child role) the durable transport"),
    ];

    private static readonly (string Name, string Help)[] Values =
    [
        ("--size", "body size in bytes (256)"),
        ("--json", "also write the results to this file"),
        .. new[] { "--role", "--silo-port", "--gateway-port", "--durable-log", "--peer", "--port", "--topic", "--topics", "--queue", "--latency", "--count", "--rate", "--warmup" }
            .Select(name => (name, "(child role)")),
    ];

    private readonly ParseResult _result;
    private readonly Dictionary<string, Option> _options;

    public Arguments(string[] args)
    {
        var root = new RootCommand("OrleansBroker beside Orleans memory streams, Redis pub/sub and NATS core.");
        _options = Flags.Select(f => (Option)new Option<bool>(f.Name) { Description = f.Help })
            .Concat(Values.Select(v => new Option<string>(v.Name) { Description = v.Help }))
            .ToDictionary(o => o.Name);
        foreach (var option in _options.Values)
        {
            root.Options.Add(option);
        }

        // No response files: no argument here names one.
        _result = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (_result.Errors.Count > 0)
        {
            throw new ArgumentException(_result.UnmatchedTokens.Count > 0 ? $"unknown argument '{_result.UnmatchedTokens[0]}'" : _result.Errors[0].Message);
        }
    }

    /// <summary>--help (or -h, -?) was given: nothing is run.</summary>
    public bool WantsHelp => _result.Action is HelpAction;

    /// <summary>Prints the help text; the exit code.</summary>
    public int PrintHelp() => _result.Invoke();

    // An option with a default value (every flag) has an implicit result when not given: only an explicit one counts.
    public bool Has(string name) => _result.GetResult(_options[name]) is { Implicit: false };

    public string? Get(string name) => _result.GetValue<string>(name);

    public int Int(string name, int? fallback = null) => Get(name) switch
    {
        null when fallback is { } value => value,
        null => throw new ArgumentException($"{name} is required"),
        var text => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0 ? n : throw new ArgumentException($"{name} wants a number, not '{text}'"),
    };

    /// <summary>Refuses any option given but not in <paramref name="known"/>: the roles' options mean nothing to the orchestrator.</summary>
    public void ThrowOnUnknown(params string[] known)
    {
        if (_options.Keys.Except(known).FirstOrDefault(Has) is { } unknown)
        {
            throw new ArgumentException($"unknown argument '{unknown}'");
        }
    }
}
