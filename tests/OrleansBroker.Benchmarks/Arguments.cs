using System.Globalization;

namespace OrleansBroker.Benchmarks;

/// <summary>A small "--name value" / "--flag" command line.</summary>
internal sealed class Arguments(string[] args)
{
    public bool Has(string name) => args.Contains(name);

    public string? Get(string name)
    {
        var index = Array.IndexOf(args, name);
        return index < 0 ? null : index + 1 < args.Length ? args[index + 1] : throw new ArgumentException($"{name} needs a value");
    }

    public int Int(string name, int? fallback = null) => Get(name) switch
    {
        null when fallback is { } value => value,
        null => throw new ArgumentException($"{name} is required"),
        var text => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0 ? n : throw new ArgumentException($"{name} wants a number, not '{text}'"),
    };

    public void ThrowOnUnknown(params string[] known)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (!known.Contains(args[i]))
            {
                throw new ArgumentException($"unknown argument '{args[i]}'");
            }

            if (args[i] is "--size" or "--json")
            {
                i++;
            }
        }
    }
}
