using OrleansBroker.Diagnostics;

namespace OrleansBroker.Tests.Telemetry;

/// <summary>
/// With nobody listening, telemetry costs a publish and a delivery nothing on the heap. Run alone,
/// after the parallel tests: listeners are process-global, and a recorder alive in another test
/// would make the broker's source listened to.
/// </summary>
[Collection(NoListenerCollection.Name)]
public sealed class NoListenerTests
{
    [Fact]
    public void PublishAndProcess_WithNoListenerAndNoActivity_AllocateNothing()
    {
        var message = Message.FromString("x", new Dictionary<string, string> { ["k"] = "v" });
        RunOnce(message); // static constructors and first calls allocate once

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            Assert.Same(message, RunOnce(message));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static Message RunOnce(Message message)
    {
        var publishing = PublishScope.Start("telemetry.nolistener", message, 5);
        publishing.End(error: null);
        PublishScope.RecordSent("telemetry.nolistener", 1, error: null);
        using (var processing = ProcessScope.Start("telemetry.nolistener", "workers", publishing.Message))
        {
            processing.Completed(error: null);
        }

        return publishing.Message;
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NoListenerCollection
{
    public const string Name = "telemetry, no listener";
}
