namespace OrleansBroker.Cli;

/// <summary>A progress line on standard error: rewritten in place on a terminal, one per call otherwise (a log keeps each).</summary>
internal static class Progress
{
    /// <summary>Shows <paramref name="line"/>; null clears the line on a terminal.</summary>
    public static void Write(string? line)
    {
        if (Console.IsErrorRedirected)
        {
            if (line is not null)
            {
                Console.Error.WriteLine(line);
            }
        }
        else
        {
            Console.Error.Write(line is null ? "\r\x1b[K" : $"\r{line}\x1b[K");
        }
    }
}
