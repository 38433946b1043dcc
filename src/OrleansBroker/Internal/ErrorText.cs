namespace OrleansBroker.Internal;

/// <summary>Error text for people: Orleans puts stack traces inside some exception messages, so keep the first line.</summary>
internal static class ErrorText
{
    public static string FirstLine(Exception exception)
    {
        var message = exception.Message;
        var end = message.IndexOfAny(['\r', '\n']);
        return (end < 0 ? message : message[..end]).TrimEnd();
    }
}
