using System.CommandLine;
using System.Runtime.InteropServices;
using OrleansBroker;
using OrleansBroker.Cli;
using OrleansBroker.Internal;

// The command-line client: pub, sub and topics against a running cluster. Every failure is one line
// on standard error: exit 2 for bad input, 1 when the cluster cannot do what was asked.
var root = new ClientCommandLine();
var parsed = root.Parse(args);
if (ClientCommandLine.Error(parsed) is { } error && parsed.Action is System.CommandLine.Invocation.ParseErrorAction)
{
    Console.Error.WriteLine($"client: {error}");
    if (ClientCommandLine.LacksCommand(parsed))
    {
        root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = Console.Error });
    }

    return 2;
}

// Disposed last, after the connection: it flushes the spans and metrics of the whole run.
using var telemetry = ClientTelemetry.Start();
using var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stopping.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stopping.Cancel();
});

// Our own handlers above: sub unsubscribes on Ctrl-C, which may take longer than System.CommandLine's grace.
var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
try
{
    return await parsed.InvokeAsync(invocation, stopping.Token);
}
catch (Exception ex) when (ex is UsageException or CertificateFileException)
{
    Console.Error.WriteLine($"client: {ex.Message}");
    return 2;
}
catch (BrokerException ex) when (ex.Code is not BrokerErrorCode.Unavailable)
{
    Console.Error.WriteLine($"client: {ex.Message}");
    return 2;
}
catch (BrokerException ex)
{
    Console.Error.WriteLine($"client: {ex.Message}");
    return 1;
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    return 130;
}
catch (Exception ex)
{
    // Secrets given on the command line stay out of the message.
    Console.Error.WriteLine($"client: {root.Redact(parsed, ErrorText.FirstLine(ex.GetBaseException()))}");
    return 1;
}
