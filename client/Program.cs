using System.Runtime.InteropServices;
using OrleansBroker;
using OrleansBroker.Cli;
using OrleansBroker.Internal;

// The command-line client: pub, sub and topics against a running silo. Every failure is one line
// on standard error: exit 2 for bad input, 1 when the cluster cannot do what was asked.
CommandLine command;
try
{
    command = CommandLine.Parse(args);
}
catch (UsageException ex)
{
    Console.Error.WriteLine(ex.Message == "help" ? CommandLine.Usage : ex.ShowUsage ? $"client: {ex.Message}\n{CommandLine.Usage}" : $"client: {ex.Message}");
    return ex.Message == "help" ? 0 : 2;
}

ClientTls? tls;
try
{
    tls = ClientTls.Load(command);
}
catch (CertificateFileException ex)
{
    Console.Error.WriteLine($"client: {ex.Message}");
    return 2;
}

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

try
{
    await using var connection = await ClusterConnection.ConnectAsync(command, tls, stopping.Token);
    return command.Command switch
    {
        "pub" => await Commands.PublishAsync(connection.Broker, command, Console.Out, stopping.Token),
        "sub" => await Commands.SubscribeAsync(connection.Broker, command, Console.Out, stopping.Token),
        _ => await Commands.ListTopicsAsync(connection.Broker, Console.Out, stopping.Token),
    };
}
catch (UsageException ex)
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
    Console.Error.WriteLine($"client: {command.Redact(ErrorText.FirstLine(ex.GetBaseException()))}");
    return 1;
}
