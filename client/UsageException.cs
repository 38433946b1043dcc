namespace OrleansBroker.Cli;

/// <summary>Bad input found after parsing (a gateway's host name that does not resolve): one line, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
