using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// One of the project's programs (silo or client) running as a real process, its output captured
/// line by line. Disposing kills it and its children, pass or fail.
/// </summary>
public sealed class ProgramProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<(DateTime At, string Line)> _timedStdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();

    // The data directory made for a silo that was given none, deleted with the process.
    private readonly string? _ownDataDir;

    private ProgramProcess(Process process, string? ownDataDir)
    {
        _process = process;
        _ownDataDir = ownDataDir;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _timedStdout.Enqueue((DateTime.UtcNow, e.Data));
                _stdout.Enqueue(e.Data);
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _stderr.Enqueue(e.Data);
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public IReadOnlyList<string> Stdout => _stdout.ToArray();

    public IReadOnlyList<string> Stderr => _stderr.ToArray();

    /// <summary>Standard output with the time each line was read.</summary>
    public IReadOnlyList<(DateTime At, string Line)> TimedStdout => _timedStdout.ToArray();

    /// <summary>The arguments the process was started with.</summary>
    public IReadOnlyList<string> Arguments => _process.StartInfo.ArgumentList.ToList();

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts silo/ (the silo host) or client/ (the command-line client), as built beside the tests.</summary>
    public static ProgramProcess Start(string program, params string[] args) => Start(program, NoEnvironment, args);

    /// <summary>
    /// Starts silo/ or client/ with these environment variables added to the test's (a null value removes one).
    /// A silo given no data directory (--data-dir or Broker__DataDir) gets a new temporary one, deleted
    /// when it is disposed, so no test touches the user's own and parallel silos never share one.
    /// </summary>
    public static ProgramProcess Start(string program, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var dll = Path.Combine(RepositoryRoot, program, "bin", BuildConfiguration, "net10.0", $"OrleansBroker.{char.ToUpperInvariant(program[0])}{program[1..]}.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"Build the solution first: {dll} is missing.");
        }

        string? ownDataDir = null;
        if (program == "silo" && !environment.ContainsKey("Broker__DataDir") && !args.Any(a => a == "--data-dir" || a.StartsWith("--Broker:DataDir", StringComparison.Ordinal)))
        {
            ownDataDir = NewDataDir();
            environment = new Dictionary<string, string?>(environment) { ["Broker__DataDir"] = ownDataDir };
        }

        return StartExecutable("dotnet", environment, [dll, .. args], ownDataDir);
    }

    /// <summary>A new empty directory under the temporary directory, for a silo's data; the caller deletes it.</summary>
    public static string NewDataDir()
    {
        var path = Path.Combine(Path.GetTempPath(), "orleansbroker-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    private static ProgramProcess StartExecutable(string executable, IReadOnlyDictionary<string, string?> environment, string[] args, string? ownDataDir)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        return new ProgramProcess(Process.Start(start)!, ownDataDir);
    }

    /// <summary>Runs a program to its end and returns it, for its exit code and output.</summary>
    public static Task<ProgramProcess> RunAsync(string program, TimeSpan timeout, params string[] args) => RunAsync(program, NoEnvironment, timeout, args);

    /// <summary>Runs a program to its end with these environment variables added, and returns it.</summary>
    public static async Task<ProgramProcess> RunAsync(string program, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout, params string[] args)
    {
        var process = Start(program, environment, args);
        try
        {
            await process.WaitForExitAsync(timeout);
        }
        catch
        {
            // Killed pass or fail: one that overran its time is not left running.
            process.Dispose();
            throw;
        }

        // Callers keep it for its output and seldom dispose it: its temporary data directory goes now.
        process.DeleteOwnDataDir();
        return process;
    }

    /// <summary>Writes <paramref name="bytes"/> to the process's standard input and closes it, as a shell's pipe would.</summary>
    public async Task SendStandardInputAsync(byte[] bytes)
    {
        await _process.StandardInput.BaseStream.WriteAsync(bytes);
        _process.StandardInput.Close();
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The process did not exit within {timeout}. stdout: {string.Join(" | ", Stdout)} stderr: {string.Join(" | ", Stderr)}");
        }

        // The exit can be seen before the last lines are read: WaitForExit() with no timeout drains them.
        _process.WaitForExit();
    }

    public Task WaitForLine(Func<string, bool> match, string what, TimeSpan timeout) =>
        Eventually.WaitUntil(() => _stdout.Concat(_stderr).Any(match) || _process.HasExited,
            what, timeout).ContinueWith(t =>
        {
            t.GetAwaiter().GetResult();
            if (!_stdout.Concat(_stderr).Any(match))
            {
                throw new InvalidOperationException($"The process exited ({_process.ExitCode}) before {what}. stdout: {string.Join(" | ", Stdout)} stderr: {string.Join(" | ", Stderr)}");
            }
        }, TaskScheduler.Default);

    /// <summary>Kills the process at once (SIGKILL), as a crash or a pulled plug would.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    /// <summary>Asks the process to stop, as Ctrl-C in a terminal or a service manager's SIGTERM would.</summary>
    public void Terminate() => Process.Start("kill", ["-TERM", _process.Id.ToString()])!.WaitForExit();

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
        DeleteOwnDataDir();
    }

    private void DeleteOwnDataDir()
    {
        if (_ownDataDir is not null)
        {
            DeleteDirectory(_ownDataDir);
        }
    }

    /// <summary>Deletes a directory and what it holds, if it can: a leftover temporary directory fails no test.</summary>
    public static void DeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the machine's cleaning of temporary files.
        }
    }

    /// <summary>A loopback port free at the moment of asking.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static readonly IReadOnlyDictionary<string, string?> NoEnvironment = new Dictionary<string, string?>();

    private static string RepositoryRoot { get; } = FindRepositoryRoot();

    // The tests run from tests/X/bin/<configuration>/net10.0: the programs were built the same way.
    private static string BuildConfiguration { get; } = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansBroker.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("OrleansBroker.sln not found above " + AppContext.BaseDirectory);
    }
}
