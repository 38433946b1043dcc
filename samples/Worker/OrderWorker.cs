using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace OrleansBroker.Samples.Worker;

/// <summary>
/// Handles <c>orders.created</c> as a member of the <c>workers</c> queue group: however many
/// workers run, each order is handled by one of them.
/// </summary>
internal sealed partial class OrderWorker(IBroker broker, ILogger<OrderWorker> logger) : IHostedService
{
    private const string Topic = "orders.created";
    private static readonly SubscribeOptions Workers = new() { Queue = "workers" };

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Hosted services start in order, so the Orleans client registered before this one is connected.
        await broker.ConnectAsync(cancellationToken);
        await broker.SubscribeAsync(Topic, HandleAsync, Workers, cancellationToken);
        LogInformationSubscribed(logger, Topic, Workers.Queue!);
    }

    // Ends the subscription while the Orleans client is still up (hosted services stop in reverse order).
    public Task StopAsync(CancellationToken cancellationToken) => broker.DisconnectAsync(cancellationToken);

    private Task HandleAsync(IEvent evt, CancellationToken cancellationToken)
    {
        evt.Message.Header.TryGetValue("order-id", out var orderId);
        LogInformationHandled(logger, orderId ?? "?", evt.Message.BodyAsString());
        return Task.CompletedTask;
    }

    [LoggerMessage(1, LogLevel.Information, "Subscribed to {Topic} in queue group {Queue}")]
    private static partial void LogInformationSubscribed(ILogger logger, string topic, string queue);

    [LoggerMessage(2, LogLevel.Information, "Handled order {OrderId}: {Body}")]
    private static partial void LogInformationHandled(ILogger logger, string orderId, string body);
}
