using System.Security.Cryptography;
using Garnet;
using Microsoft.Extensions.Logging;
using OrleansBroker.Internal;
using StackExchange.Redis;

namespace OrleansBroker.Silo;

/// <summary>
/// The single silo's store: an embedded Garnet (the Redis protocol) inside the silo process, on
/// 127.0.0.1 with a password made at each start, keeping its data under the data directory. The
/// broker's grain storage and its durable log both live here, so a restart loses nothing stored.
/// Durability: every write is in Garnet's append-only file (AOF) before Garnet answers it (one AOF
/// commit per operation, and the answer waits for it), and the AOF is replayed on start. That holds
/// through a crash or kill -9 of the process (the file's writes are in the operating system);
/// Garnet does not fsync each commit, so a power loss may lose the last writes.
/// Layout: silo.lock (held while the silo runs: one silo per directory), store.password (this run's
/// password, readable by this user only) and garnet/ (Garnet's AOF, checkpoints and spilled records).
/// </summary>
internal sealed class LocalStore : IDisposable
{
    private readonly FileStream _lock;
    private readonly GarnetServer _server;
    private readonly ILoggerFactory _logging;

    private LocalStore(string directory, FileStream lockFile, GarnetServer server, ILoggerFactory logging, ConfigurationOptions connection)
    {
        Directory = directory;
        _lock = lockFile;
        _server = server;
        _logging = logging;
        Connection = connection;
    }

    /// <summary>The data directory, full path.</summary>
    public string Directory { get; }

    /// <summary>How the silo reaches the store: its loopback endpoint and password.</summary>
    public ConfigurationOptions Connection { get; }

    /// <summary>Makes the data directory if need be, takes it, and starts Garnet on it, recovering what it kept.</summary>
    /// <exception cref="DataDirectoryException">The directory cannot be used; the message is one line naming it.</exception>
    public static LocalStore Open(string directory, int port)
    {
        directory = Path.GetFullPath(directory);
        var lockFile = Take(directory);
        var logging = LoggerFactory.Create(b => b
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            })
            .SetMinimumLevel(LogLevel.Warning)

            // Garnet warns that it was given a logger (so ignores its own logging options): as meant.
            .AddFilter("ArgParser", LogLevel.Error));
        GarnetServer? server = null;
        try
        {
            var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
            WritePrivate(Path.Combine(directory, "store.password"), password);
            port = port == 0 ? FreePort() : port;
            var garnet = Path.Combine(directory, "garnet");
            server = new GarnetServer(
            [
                "--bind", "127.0.0.1", "--port", port.ToString(),
                "--auth", "Password", "--password", password,

                // Orleans' Redis storage and the durable log run scripts; the log needs them atomic.
                "--lua", "--lua-transaction-mode",

                // Every write committed to the AOF before it is answered; the AOF replayed on start.
                "--aof", "--aof-commit-freq", "0", "--aof-commit-wait", "--recover", "--fail-on-recovery-error",

                // Records past memory go to disk instead of being dropped. Files through .NET's
                // RandomAccess, not Linux's native device (it needs libaio installed).
                "--storage-tier", "--logdir", garnet, "--checkpointdir", garnet, "--device-type", "RandomAccess",
                "--index", "16m", "--memory", "256m",

                // No banner on standard output: the silo's log says where the store is.
                "-q",
            ], logging);
            server.Start();
            var connection = new ConfigurationOptions { EndPoints = { { "127.0.0.1", port } }, Password = password };
            return new LocalStore(directory, lockFile, server, logging, connection);
        }
        catch
        {
            server?.Dispose();
            logging.Dispose();
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>The default data directory: per user, per cluster id.</summary>
    public static string? DefaultDirectory(string clusterId)
    {
        var root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        return string.IsNullOrEmpty(root) ? null : Path.Combine(root, "orleansbroker", clusterId);
    }

    public void Dispose()
    {
        _server.Dispose();
        _logging.Dispose();
        _lock.Dispose();
    }

    // The directory, made if missing, and a lock on it held for the silo's life: two silos on one
    // AOF would corrupt it. The operating system drops the lock when the process dies.
    private static FileStream Take(string directory)
    {
        if (File.Exists(directory))
        {
            throw new DataDirectoryException($"Broker:DataDir '{directory}' is a file, not a directory");
        }

        try
        {
            System.IO.Directory.CreateDirectory(directory);
            return new FileStream(Path.Combine(directory, "silo.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DataDirectoryException($"Broker:DataDir '{directory}' cannot be used: {ErrorText.FirstLine(ex)}");
        }
    }

    private static void WritePrivate(string path, string text)
    {
        try
        {
            File.Delete(path);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var writer = new StreamWriter(path, System.Text.Encoding.ASCII, options);
            writer.Write(text);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DataDirectoryException($"Broker:DataDir '{Path.GetDirectoryName(path)}' cannot be used: {ErrorText.FirstLine(ex)}");
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>The data directory cannot be used; the message is one line that names it.</summary>
internal sealed class DataDirectoryException(string message) : Exception(message);
