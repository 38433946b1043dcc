using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace OrleansBroker.Samples.Publisher;

/// <summary>Publishes one order a second to <c>orders.created</c> until the host stops.</summary>
internal sealed partial class OrderPublisher(IBroker broker, ILogger<OrderPublisher> logger) : BackgroundService
{
    private const string Topic = "orders.created";
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);

        // Hosted services stop in reverse order, so the Orleans client is still up: what was accepted goes out.
        await broker.DisconnectAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await broker.ConnectAsync(stoppingToken);
        using var timer = new PeriodicTimer(Interval);
        var number = 0;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            number++;
            var header = new Dictionary<string, string> { ["order-id"] = number.ToString() };
            try
            {
                await broker.PublishAsync(Topic, Message.FromString($"order {number}", header), stoppingToken);
                LogInformationPublished(logger, number, Topic);
            }
            catch (BrokerException ex) when (ex.Code == BrokerErrorCode.Unavailable)
            {
                // The cluster is away for a moment (a silo restarting): say so and go on with the next order.
                LogWarningNotAccepted(logger, number, ex.Message);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Published order {Number} to {Topic}")]
    private static partial void LogInformationPublished(ILogger logger, int number, string topic);

    [LoggerMessage(2, LogLevel.Warning, "Order {Number} was not accepted: {Reason}")]
    private static partial void LogWarningNotAccepted(ILogger logger, int number, string reason);
}
