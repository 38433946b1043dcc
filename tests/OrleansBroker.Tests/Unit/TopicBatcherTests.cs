using System.Collections.Concurrent;
using OrleansBroker.Grains;
using OrleansBroker.Publishing;

namespace OrleansBroker.Tests.Unit;

/// <summary>Publishes carried through a failure: sent again in order, numbered, until their deadline.</summary>
public sealed class TopicBatcherTests
{
    private static Message M(int i) => Message.FromString(i.ToString());

    private static TopicBatcher Batcher(FakeTopic topic, TimeSpan? timeout = null) =>
        new(topic, "t", new Publisher(), new BrokerOptions { PublishTimeout = timeout ?? TimeSpan.FromSeconds(30) });

    [Fact]
    public async Task ABatchRefusedOnTheWay_IsSentAgain_WithItsNumber()
    {
        var topic = new FakeTopic { FailNext = 2 };
        var batcher = Batcher(topic);

        await batcher.EnqueueAsync(M(1), 1);

        Assert.Equal(3, topic.Calls.Count);
        Assert.Single(topic.Calls.Select(c => c.Sequence).Distinct());
        Assert.Equal(["1"], topic.Taken);
    }

    [Fact]
    public async Task LaterBatches_WaitBehindOneThatIsRetried()
    {
        var topic = new FakeTopic { FailNext = 3 };
        var batcher = Batcher(topic);

        var first = batcher.EnqueueAsync(M(1), 1);
        var rest = Enumerable.Range(2, 50).Select(i => batcher.EnqueueAsync(M(i), 1)).ToList();
        await Task.WhenAll([first, .. rest]);

        Assert.Equal(Enumerable.Range(1, 51).Select(i => i.ToString()), topic.Taken);
        var sequences = topic.Calls.Select(c => c.Sequence).ToList();
        Assert.Equal(sequences.Order(), sequences);
    }

    [Fact]
    public async Task ABatchThatKeepsFailing_FailsAtItsDeadline()
    {
        var topic = new FakeTopic { FailNext = int.MaxValue };
        var batcher = Batcher(topic, TimeSpan.FromSeconds(1.5));

        var error = await Assert.ThrowsAsync<BrokerException>(() => batcher.EnqueueAsync(M(1), 1));

        Assert.Equal(BrokerErrorCode.Unavailable, error.Code);
        Assert.True(topic.Calls.Count > 1, "retried before giving up");
        Assert.Empty(topic.Taken);
    }

    [Fact]
    public async Task ARefusalThatIsNotTransient_FailsAtOnce()
    {
        var topic = new FakeTopic { Refuse = new ArgumentException("bad") };
        var batcher = Batcher(topic);

        var error = await Assert.ThrowsAsync<BrokerException>(() => batcher.EnqueueAsync(M(1), 1));

        Assert.Equal(BrokerErrorCode.Unavailable, error.Code);
        Assert.Single(topic.Calls);
    }

    [Fact]
    public async Task ACallStillOutAtTheDeadline_Fails_AndTheNextBatchCarriesAHigherNumber()
    {
        var topic = new FakeTopic { HangNext = 1 };
        var batcher = Batcher(topic, TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAsync<BrokerException>(() => batcher.EnqueueAsync(M(1), 1));
        await batcher.EnqueueAsync(M(2), 1);

        Assert.Equal(2, topic.Calls.Count);
        Assert.True(topic.Calls[1].Sequence > topic.Calls[0].Sequence);
        Assert.Equal(["2"], topic.Taken);
    }

    [Fact]
    public async Task PastItsBound_PublishesWaitTheirTurn_InOrder_AndAllAreTakenOnceTheTopicAnswers()
    {
        var topic = new FakeTopic { HoldUntil = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var batcher = Batcher(topic);
        var count = 3 * TopicBatcher.MaxQueuedMessages;

        var publishes = Enumerable.Range(1, count).Select(i => batcher.EnqueueAsync(M(i), 1)).ToList();

        Assert.Equal(TopicBatcher.MaxQueuedMessages, batcher.QueuedMessages);
        Assert.DoesNotContain(publishes, p => p.IsCompleted);
        topic.HoldUntil.SetResult();
        await Task.WhenAll(publishes);
        Assert.Equal(Enumerable.Range(1, count).Select(i => i.ToString()), topic.Taken);
        Assert.Equal(0, batcher.QueuedMessages);
    }

    [Fact]
    public async Task AnIdleBatcher_Retires_AndTakesNoMore_ButABusyOneDoesNot()
    {
        var topic = new FakeTopic { HoldUntil = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var batcher = Batcher(topic);
        var publish = batcher.EnqueueAsync(M(1), 1);

        Assert.False(batcher.TryRetire(TimeSpan.Zero), "a batcher with a call out stays");
        topic.HoldUntil.SetResult();
        await publish;
        await Infrastructure.Eventually.WaitUntil(() => batcher.TryRetire(TimeSpan.Zero), "the batcher, idle now, to retire");
        Assert.False(batcher.TryEnqueue(M(2), 1, out _));
        Assert.Equal(["1"], topic.Taken);
    }

    /// <summary>A topic grain that fails, refuses or never answers the calls it is told to.</summary>
    private sealed class FakeTopic : ITopicGrain
    {
        private readonly ConcurrentQueue<(long Sequence, Message[] Messages)> _calls = new();
        private readonly ConcurrentQueue<string> _taken = new();

        public int FailNext { get; set; }
        public int HangNext { get; set; }
        public Exception? Refuse { get; set; }
        public TaskCompletionSource? HoldUntil { get; set; }

        public IReadOnlyList<(long Sequence, Message[] Messages)> Calls => _calls.ToArray();
        public IReadOnlyList<string> Taken => _taken.ToArray();

        public Task Publish(string publisher, long sequence, Immutable<Message[]> messages)
        {
            _calls.Enqueue((sequence, messages.Value));
            if (Refuse is { } refusal)
            {
                return Task.FromException(refusal);
            }

            if (HangNext > 0)
            {
                HangNext--;
                return new TaskCompletionSource().Task;
            }

            if (FailNext > 0)
            {
                FailNext--;
                return Task.FromException(new SiloUnavailableException("the topic's silo died"));
            }

            if (HoldUntil is { } hold)
            {
                return hold.Task.ContinueWith(_ => Take(messages.Value), TaskScheduler.Default);
            }

            Take(messages.Value);
            return Task.CompletedTask;
        }

        private void Take(Message[] messages)
        {
            foreach (var message in messages)
            {
                _taken.Enqueue(message.BodyAsString());
            }
        }

        public Task Publish(Immutable<Message[]> messages) => throw new NotSupportedException();
        public Task Subscribe(string subscriptionId, string? queue, long minimumStream = 0, bool restartStream = false) => throw new NotSupportedException();
        public Task Unsubscribe(string subscriptionId) => throw new NotSupportedException();
        public Task AddDropped(long count) => throw new NotSupportedException();
        public Task HandBack(string subscriptionId, string? queue, Immutable<Message[]> messages) => throw new NotSupportedException();
        public Task Overflow(string subscriptionId, Immutable<Message[]> messages) => throw new NotSupportedException();
        public Task<TopicSnapshot?> GetInfo() => throw new NotSupportedException();
    }
}
