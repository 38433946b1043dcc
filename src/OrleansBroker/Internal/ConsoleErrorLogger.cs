using Microsoft.Extensions.Logging;

namespace OrleansBroker.Internal;

/// <summary>
/// The logger of a broker built without a logger factory: warnings and errors go to standard
/// error, one line each (as go-micro's default logger), so a failing handler is never silent.
/// </summary>
internal sealed class ConsoleErrorLogger(string category) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        var error = exception is null ? "" : $": {exception.GetType().Name}: {exception.Message}";
        Console.Error.WriteLine($"{logLevel} {category}: {formatter(state, exception)}{error}");
    }
}
