using Microsoft.Extensions.Logging.Abstractions;
using OrleansBroker.Subscriptions;
using OrleansBroker.Tests.Telemetry;

namespace OrleansBroker.Tests.Unit;

/// <summary>
/// The dispatch loop's cost per message. Run with no listener (see <see cref="NoListenerTests"/>): a
/// listened-to source gives each handler its own Activity, and with it its own ExecutionContext.
/// </summary>
[Collection(NoListenerCollection.Name)]
public sealed class HandlerDispatcherTests
{
    [Fact]
    public async Task Handlers_RunInTheLoopsOneExecutionContext_NoneIsMadePerMessage()
    {
        // Each change of an AsyncLocal makes a new ExecutionContext: setting one around every handler
        // call cost two allocations per message and showed as a throughput regression.
        const int count = 3;
        var contexts = new List<ExecutionContext?>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var dispatcher = new HandlerDispatcher("dispatch.context", (_, _) =>
        {
            contexts.Add(ExecutionContext.Capture());
            if (contexts.Count == count)
            {
                done.TrySetResult();
            }

            return Task.CompletedTask;
        }, new BrokerOptions(), new SubscribeOptions(), NullLogger.Instance);

        for (var i = 0; i < count; i++)
        {
            Assert.True(dispatcher.TryPost(Message.FromString($"m{i}")));
        }

        await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await dispatcher.CloseAsync();
        Assert.NotNull(contexts[0]);
        Assert.All(contexts, context => Assert.Same(contexts[0], context));
    }

    [Fact]
    public async Task AnEmptyBatch_IsTaken_AndTheNextMessageIsHandled()
    {
        // A subscriber grain's empty delivery carries only its running count: the loop must go on past it.
        var handled = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var dispatcher = new HandlerDispatcher("dispatch.empty", (evt, _) =>
        {
            handled.TrySetResult(evt.Message.BodyAsString());
            return Task.CompletedTask;
        }, new BrokerOptions(), new SubscribeOptions(), NullLogger.Instance);

        Assert.True(await dispatcher.PostAsync([]));
        Assert.True(await dispatcher.PostAsync([Message.FromString("next")]));
        Assert.Equal("next", await handled.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Empty(await dispatcher.CloseAsync());
        Assert.False(await dispatcher.PostAsync([]));
    }
}
