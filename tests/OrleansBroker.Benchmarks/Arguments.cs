using System.CommandLine;
using System.Globalization;

namespace OrleansBroker.Benchmarks;

/// <summary>
/// The benchmark's command line, parsed by System.CommandLine as the client's is: the orchestrator's
/// options and those of the child roles it starts (--role silo|sub|pub|idle). Bad input is an
/// <see cref="ArgumentException"/> with one line.
/// </summary>
internal sealed class Arguments
{
    private static readonly string[] Flags = ["--quick", "--testcluster", "--tcp"];

    private static readonly string[] Values =
        ["--size", "--json", "--role", "--silo-port", "--gateway-port", "--peer", "--port", "--topic", "--topics", "--queue", "--latency", "--count", "--rate"];

    private readonly ParseResult _result;
    private readonly Dictionary<string, Option> _options;

    public Arguments(string[] args)
    {
        var root = new RootCommand("OrleansBroker beside Orleans memory streams, Redis pub/sub and NATS core.");
        _options = Flags.Select(name => (Option)new Option<bool>(name))
            .Concat(Values.Select(name => new Option<string>(name)))
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
