namespace OrleansBroker.Benchmarks;

/// <summary>The lines a child process printed, for the orchestrator to wait on and read.</summary>
internal sealed class ProcessOutput
{
    private readonly List<string> _lines = [];

    public void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lines)
        {
            _lines.Add(line);
        }
    }

    /// <summary>Removes and returns the first line that matches, or null.</summary>
    public string? TakeFirst(Func<string, bool> match)
    {
        lock (_lines)
        {
            var index = _lines.FindIndex(l => match(l));
            if (index < 0)
            {
                return null;
            }

            var line = _lines[index];
            _lines.RemoveAt(index);
            return line;
        }
    }

    public string? Last(Func<string, bool> match)
    {
        lock (_lines)
        {
            return _lines.LastOrDefault(match);
        }
    }

    public string Tail()
    {
        lock (_lines)
        {
            return string.Join(" | ", _lines.TakeLast(5));
        }
    }
}
