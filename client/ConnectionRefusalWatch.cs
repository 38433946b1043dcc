using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansBroker.Cli;

/// <summary>
/// Orleans' client tries again and again, until the connect timeout and without saying why, a gateway
/// that accepts a connection and then ends it: what a silo does to a client whose TLS it refuses.
/// This reads the client's own log for those failed attempts, so the client can give up after a few
/// and say why.
/// </summary>
internal sealed class ConnectionRefusalWatch(int attemptsBeforeGivingUp) : ILoggerProvider
{
    private const string ConnectionManagerCategory = "Orleans.Runtime.Messaging.ConnectionManager";
    private const string TlsCategory = "Orleans.Connections.Security.TlsClientConnectionMiddleware";

    private readonly TaskCompletionSource<string?> _gaveUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _failedAttempts;
    private volatile string? _tlsFailure;

    /// <summary>Completes after that many failed attempts, with the TLS handshake's error if there was one.</summary>
    public Task<string?> GaveUp => _gaveUp.Task;

    public ILogger CreateLogger(string categoryName) => categoryName switch
    {
        ConnectionManagerCategory or TlsCategory => new Watcher(this, categoryName),
        _ => NullLogger.Instance,
    };

    public void Dispose()
    {
    }

    private void OnLog(string category, string message, Exception? exception)
    {
        if (category == TlsCategory)
        {
            _tlsFailure = exception?.Message.Split('\n')[0].TrimEnd().TrimEnd('.') ?? _tlsFailure;
            return;
        }

        // Only connections made and then ended (aborted, or "terminated prematurely" during Orleans'
        // preamble, as timing has it): a gateway that is down (a socket error) is not refusing this
        // client, and another gateway may yet answer.
        if (message.StartsWith("Connection attempt to endpoint", StringComparison.Ordinal)
            && exception is ConnectionAbortedException or InvalidOperationException
            && Interlocked.Increment(ref _failedAttempts) >= attemptsBeforeGivingUp)
        {
            _gaveUp.TrySetResult(_tlsFailure);
        }
    }

    private sealed class Watcher(ConnectionRefusalWatch watch, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                watch.OnLog(category, formatter(state, exception), exception);
            }
        }
    }
}
