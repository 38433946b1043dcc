using System.CommandLine;
using OrleansBroker.Internal;

namespace OrleansBroker.Cli.Commands;

/// <summary><c>durable delete TOPIC QUEUE</c>: deletes a durable subscription, its members and its backlog.</summary>
internal sealed class DurableCommand : Command
{
    public DurableCommand(ConnectionOptions connection)
        : base("durable", "Manage durable subscriptions")
    {
        Delete = new Command("delete", "Delete a durable subscription: end its members and drop its backlog");
        Topic.Validators.Add(result => OptionValues.Check(result, () => Validation.ValidateReadableTopic(result.GetValueOrDefault<string>())));
        Queue.Validators.Add(result => OptionValues.Check(result, () => Validation.ValidateQueue(result.GetValueOrDefault<string>())));
        Delete.Add(Topic);
        Delete.Add(Queue);
        Delete.Validators.Add(connection.Validate);
        Delete.SetAction(async (result, cancellationToken) =>
        {
            var settings = connection.Bind(result);
            await using var cluster = await ClusterConnection.ConnectAsync(settings, ClientTls.Load(settings), configure: null, cancellationToken);
            return await DeleteAsync(cluster.Broker, result.GetRequiredValue(Topic), result.GetRequiredValue(Queue), Console.Out, Console.Error, cancellationToken);
        });
        Add(Delete);
    }

    public Command Delete { get; }

    public Argument<string> Topic { get; } = new("TOPIC") { Description = "The durable subscription's topic" };

    public Argument<string> Queue { get; } = new("QUEUE") { Description = "The durable subscription's queue" };

    /// <summary>Deletes (topic, queue); exit 1 with a line on <paramref name="error"/> when there was none.</summary>
    public static async Task<int> DeleteAsync(IBrokerAdmin broker, string topic, string queue, TextWriter output, TextWriter error,
        CancellationToken cancellationToken)
    {
        if (await broker.DeleteDurableAsync(topic, queue, cancellationToken))
        {
            output.WriteLine($"deleted durable subscription {queue} of {topic}");
            return 0;
        }

        error.WriteLine($"client: there is no durable subscription {queue} of {topic}");
        return 1;
    }
}
