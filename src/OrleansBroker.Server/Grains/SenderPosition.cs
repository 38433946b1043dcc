namespace OrleansBroker.Server.Grains;

/// <summary>
/// Where a subscriber grain's numbering of its deliveries to the client had got to: the sender it numbers as,
/// the last number it used, and the running count of messages its plain deliveries carried (the next delivery's
/// <c>sentBefore</c>). Handed over with the stream position on a graceful deactivation. <see cref="SentWithoutAnswers"/>:
/// the last deliveries went out as one-way calls, which can be lost on the way unnoticed.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansBroker.SenderPosition")]
internal sealed record SenderPosition(
    [property: Id(0)] long Sender,
    [property: Id(1)] long Sent,
    [property: Id(2)] long SentMessages,
    [property: Id(3)] bool SentWithoutAnswers = false);
