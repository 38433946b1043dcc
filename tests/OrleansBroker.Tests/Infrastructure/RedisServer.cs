using Garnet;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A Redis-protocol store for tests that need one: Microsoft Research's Garnet, embedded in the test
/// process on a free loopback port with Lua on (Orleans' Redis clustering runs scripts) in its transaction
/// mode, so a script runs atomically as in Redis (the durable log relies on it), no
/// persistence. Nothing is installed: `dotnet test` needs only the .NET SDK. Stopped when disposed.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly GarnetServer _server;

    private RedisServer(GarnetServer server, int port)
    {
        _server = server;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public static RedisServer Start()
    {
        var port = ProgramProcess.FreePort();

        // Small memory settings: a test cluster keeps a few hundred keys, and Garnet sizes its
        // hash index and log up front.
        var server = new GarnetServer(["--bind", "127.0.0.1", "--port", port.ToString(), "--lua", "--lua-transaction-mode", "--index", "1m", "--memory", "64m"]);
        try
        {
            server.Start();
        }
        catch
        {
            server.Dispose();
            throw;
        }

        return new RedisServer(server, port);
    }

    public void Dispose() => _server.Dispose();
}
