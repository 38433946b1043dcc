namespace OrleansBroker.Server.Grains;

/// <summary>What a run of messages weighs on a silo: bodies plus header keys and values, the size the limits count.</summary>
internal static class MessageBytes
{
    public static long Of(Message[] messages)
    {
        long bytes = 0;
        foreach (var message in messages)
        {
            bytes += message.SizeInBytes();
        }

        return bytes;
    }
}
