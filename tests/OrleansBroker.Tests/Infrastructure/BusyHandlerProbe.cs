namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A handler that takes a few milliseconds a message, for tests of ending a subscription under
/// load: it counts the calls running when the ending returned, and those that began after.
/// </summary>
public sealed class BusyHandlerProbe
{
    private int _running;
    private int _started;
    private int _startedAfterReturn;
    private bool _returned;

    public int Started => Volatile.Read(ref _started);

    public int StartedAfterReturn => Volatile.Read(ref _startedAfterReturn);

    public MessageHandler Handler => async (_, ct) =>
    {
        Interlocked.Increment(ref _started);
        if (Volatile.Read(ref _returned))
        {
            Interlocked.Increment(ref _startedAfterReturn);
        }

        Interlocked.Increment(ref _running);
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(5), ct).ContinueWith(_ => { }, CancellationToken.None);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    };

    /// <summary>Marks that the ending has returned; gives how many calls were running at that moment.</summary>
    public int MarkReturned()
    {
        var running = Volatile.Read(ref _running);
        Volatile.Write(ref _returned, true);
        return running;
    }
}
