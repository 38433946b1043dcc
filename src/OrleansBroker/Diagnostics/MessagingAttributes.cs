using System.Diagnostics;

namespace OrleansBroker.Diagnostics;

/// <summary>Attribute names and values of the OpenTelemetry messaging conventions, as this broker fills them.</summary>
internal static class MessagingAttributes
{
    public const string System = "messaging.system";
    public const string SystemValue = "orleansbroker";
    public const string OperationType = "messaging.operation.type";
    public const string OperationName = "messaging.operation.name";
    public const string DestinationName = "messaging.destination.name";
    public const string ConsumerGroupName = "messaging.consumer.group.name";
    public const string BodySize = "messaging.message.body.size";
    public const string ErrorType = "error.type";

    /// <summary>PublishAsync: operation type <c>send</c>, named <c>publish</c> as go-micro names it.</summary>
    public const string Send = "send";
    public const string Publish = "publish";

    /// <summary>A handler's run: type and name both <c>process</c>.</summary>
    public const string Process = "process";

    /// <summary>
    /// The attributes every measurement of an operation carries: the system, the topic, the operation's
    /// name, the consumer group when there is one and the error type when it failed.
    /// </summary>
    public static TagList MeasurementTags(string topic, string operation, string? group, Exception? error)
    {
        var tags = new TagList
        {
            { System, SystemValue },
            { DestinationName, topic },
            { OperationName, operation },
        };
        if (group is not null)
        {
            tags.Add(ConsumerGroupName, group);
        }

        if (error is not null)
        {
            tags.Add(ErrorType, BrokerTelemetry.ErrorType(error));
        }

        return tags;
    }
}
