using System.CommandLine;
using OrleansBroker.Cli.Commands;

namespace OrleansBroker.Cli;

/// <summary>
/// The client's command line on System.CommandLine: pub, sub and topics under one root that holds
/// the options they share. Bad input is one line (<see cref="Error"/>); usage is shown for --help
/// and for a missing command only.
/// </summary>
internal sealed class ClientCommandLine : RootCommand
{
    /// <summary>
    /// No response files: a body or header may well start with '@'. No option bundling: every
    /// option here is long, and "-abc" is more likely a body than three flags.
    /// </summary>
    public static readonly ParserConfiguration Configuration = new() { ResponseFileTokenReplacer = null, EnablePosixBundling = false };

    /// <param name="environment">Where the defaults of the shared options come from; the process's environment when null.</param>
    public ClientCommandLine(Func<string, string?>? environment = null)
        : base("""
            OrleansBroker's command-line client: publish, subscribe, list topics and delete durable subscriptions on a running cluster.
            The default gateway is localhost:30000. With --redis (or Broker__Redis in the environment) the client
            finds the silos through Redis membership. Exit codes: 0 done, 1 the cluster could not do it, 2 bad input.
            """)
    {
        Connection = new ConnectionOptions(environment ?? Environment.GetEnvironmentVariable);
        Pub = new PubCommand(Connection);
        Sub = new SubCommand(Connection);
        Topics = new TopicsCommand(Connection);
        Durable = new DurableCommand(Connection);
        Add(Pub);
        Add(Sub);
        Add(Topics);
        Add(Durable);
        Connection.AddTo(this);
    }

    public ConnectionOptions Connection { get; }

    public PubCommand Pub { get; }

    public SubCommand Sub { get; }

    public TopicsCommand Topics { get; }

    public DurableCommand Durable { get; }

    public ParseResult Parse(IReadOnlyList<string> args) => Parse(args, Configuration);

    /// <summary>Whether what is wrong is that no command was named: then the usage helps.</summary>
    public static bool LacksCommand(ParseResult result) =>
        result.Errors.Count > 0 && result.CommandResult.Command is RootCommand && result.UnmatchedTokens.Count == 0;

    /// <summary>What is wrong with <paramref name="result"/>, as one line, or null when nothing is.</summary>
    public static string? Error(ParseResult result)
    {
        if (result.Errors.Count == 0)
        {
            return null;
        }

        var command = result.CommandResult.Command;
        var names = string.Join(", ", result.RootCommandResult.Command.Subcommands.Select(c => c.Name));
        if (result.UnmatchedTokens.FirstOrDefault() is { } unmatched)
        {
            // System.CommandLine's own words ("Unrecognized command or argument") do not say which.
            return unmatched.StartsWith('-') && unmatched.Length > 1 ? $"unknown option {unmatched}"
                : command is RootCommand ? $"unknown command '{unmatched}' ({names})"
                : $"{command.Name} takes no more arguments: '{unmatched}'";
        }

        return command is RootCommand ? $"no command given ({names})" : result.Errors[0].Message;
    }

    /// <summary><paramref name="text"/> with the Redis and certificate passwords that <paramref name="result"/> holds hidden.</summary>
    public string Redact(ParseResult result, string text) => new ConnectionSettings
    {
        Redis = result.GetValue(Connection.Redis),
        TlsCertificatePassword = result.GetValue(Connection.TlsCertificatePassword),
    }.Redact(text);
}
