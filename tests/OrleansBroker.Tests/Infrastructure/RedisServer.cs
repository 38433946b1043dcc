namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A real redis-server (Debian's package, installed by .ci/run) on a free loopback port, with no
/// persistence, killed when disposed.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly ProgramProcess _process;

    private RedisServer(ProgramProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        if (!File.Exists("/usr/bin/redis-server"))
        {
            throw new InvalidOperationException("redis-server is not installed: run .ci/run, or apt-get install redis-server.");
        }

        var port = ProgramProcess.FreePort();
        var process = ProgramProcess.StartExecutable("redis-server",
            "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes");
        var server = new RedisServer(process, port);
        try
        {
            await process.WaitForLine(l => l.Contains("Ready to accept connections"), "redis-server to be ready", TimeSpan.FromSeconds(20));
        }
        catch
        {
            server.Dispose();
            throw;
        }

        return server;
    }

    public void Dispose() => _process.Dispose();
}
