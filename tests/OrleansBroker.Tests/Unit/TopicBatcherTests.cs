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

    [Fact]
    public async Task ToATopicThatStores_SeveralCallsGoOutAtOnce_AndTheTopicTakesThemInOrder()
    {
        var topic = new FakeTopic { Stores = true };
        var batcher = Batcher(topic);
        await batcher.EnqueueAsync(M(0), 1);
        topic.HoldUntil = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var publishes = new List<Task>();
        for (var i = 1; i <= 8; i++)
        {
            publishes.Add(batcher.EnqueueAsync(M(i), 1));
            await Infrastructure.Eventually.WaitUntil(() => topic.Calls.Count == 1 + Math.Min(i, TopicBatcher.MaxCallsInFlight), $"call {i} to go out");
        }

        Assert.Equal(1 + TopicBatcher.MaxCallsInFlight, topic.Calls.Count);
        topic.HoldUntil.SetResult();
        await Task.WhenAll(publishes);
        Assert.Equal(Enumerable.Range(0, 9).Select(i => i.ToString()), topic.Taken);
        var calls = topic.Calls;
        Assert.All(calls.Skip(1).Zip(calls), pair => Assert.Equal(pair.Second.Sequence, pair.First.Previous));
    }

    [Fact]
    public async Task ToATopicThatAnswersAtOnce_OneCallGoesAtATime_CarryingAllThatWaited()
    {
        var topic = new FakeTopic();
        var batcher = Batcher(topic);
        await batcher.EnqueueAsync(M(0), 1);
        topic.HoldUntil = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var first = batcher.EnqueueAsync(M(1), 1);
        await Infrastructure.Eventually.WaitUntil(() => topic.Calls.Count == 2, "the held call to go out");
        var rest = new[] { batcher.EnqueueAsync(M(2), 1), batcher.EnqueueAsync(M(3), 1) };
        topic.HoldUntil.SetResult();
        await Task.WhenAll([first, .. rest]);

        Assert.Equal(3, topic.Calls.Count);
        Assert.Equal(["2", "3"], topic.Calls[2].Messages.Select(m => m.BodyAsString()));
        Assert.Equal(["0", "1", "2", "3"], topic.Taken);
    }

    [Fact]
    public async Task ACallOvertakenOnTheWay_IsRefused_AndSentAgainAfterTheOneBeforeIt()
    {
        // The first call arrives only after the second: the topic refuses the second, which goes again after it.
        var topic = new FakeTopic { Stores = true };
        var batcher = Batcher(topic);
        await batcher.EnqueueAsync(M(0), 1);
        topic.OvertakeNext = true;

        var first = batcher.EnqueueAsync(M(1), 1);
        await Infrastructure.Eventually.WaitUntil(() => topic.Calls.Count == 2, "the first call");
        var second = batcher.EnqueueAsync(M(2), 1);
        await Task.WhenAll(first, second);

        Assert.Equal(["0", "1", "2"], topic.Taken);
        Assert.Equal([PublishOutcome.Stored, PublishOutcome.OutOfOrder, PublishOutcome.Stored, PublishOutcome.Stored], topic.Outcomes);
        Assert.Equal(4, topic.Calls.Count);
    }

    [Fact]
    public async Task ATopicThatForgotThePublisher_TakesItsNextBatch_WithNoPreviousOne()
    {
        var topic = new FakeTopic();
        var batcher = Batcher(topic);
        await batcher.EnqueueAsync(M(1), 1);

        topic.ForgetPublishers();
        await batcher.EnqueueAsync(M(2), 1);

        Assert.Equal(["1", "2"], topic.Taken);
        Assert.Equal([PublishOutcome.Taken, PublishOutcome.UnknownPublisher, PublishOutcome.Taken], topic.Outcomes);
        Assert.Equal(0, topic.Calls[^1].Previous);
    }

    [Fact]
    public async Task ABatchRefusedForGood_DoesNotHoldUpTheOnesAfterIt()
    {
        var topic = new FakeTopic { Stores = true, RefuseBody = "2" };
        var batcher = Batcher(topic);
        await batcher.EnqueueAsync(M(0), 1);
        topic.HoldUntil = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var publishes = new List<Task>();
        for (var i = 1; i <= 3; i++)
        {
            publishes.Add(batcher.EnqueueAsync(M(i), 1));
            await Infrastructure.Eventually.WaitUntil(() => topic.Calls.Count == 1 + i, $"call {i} to go out");
        }

        topic.HoldUntil.SetResult();
        await publishes[0];
        await Assert.ThrowsAsync<BrokerException>(() => publishes[1]);
        await publishes[2];
        Assert.Equal(["0", "1", "3"], topic.Taken);
    }

    /// <summary>
    /// A topic grain that keeps a publisher's order as TopicGrain does (the batch before must have been taken), and
    /// fails, refuses, holds, reorders or never answers the calls it is told to.
    /// </summary>
    private sealed class FakeTopic : ITopicGrain
    {
        private readonly Lock _gate = new();
        private readonly ConcurrentQueue<(long Sequence, long Previous, Message[] Messages)> _calls = new();
        private readonly ConcurrentQueue<string> _taken = new();
        private readonly ConcurrentQueue<PublishOutcome> _outcomes = new();
        private readonly Dictionary<string, long> _newest = [];
        private TaskCompletionSource? _overtaken;
        private Task _handling = Task.CompletedTask;

        public int FailNext { get; set; }
        public int HangNext { get; set; }
        public Exception? Refuse { get; set; }
        public string? RefuseBody { get; set; }

        /// <summary>Answers <see cref="PublishOutcome.Stored"/> for what it takes, as a topic with a durable log does.</summary>
        public bool Stores { get; set; }
        public TaskCompletionSource? HoldUntil { get; set; }

        /// <summary>The next call is handled only after the one after it.</summary>
        public bool OvertakeNext { get; set; }

        public IReadOnlyList<(long Sequence, long Previous, Message[] Messages)> Calls => _calls.ToArray();
        public IReadOnlyList<string> Taken => _taken.ToArray();
        public IReadOnlyList<PublishOutcome> Outcomes => _outcomes.ToArray();

        public void ForgetPublishers()
        {
            lock (_gate)
            {
                _newest.Clear();
            }
        }

        public Task Publish(string publisher, long sequence, Immutable<Message[]> messages) => Publish(publisher, sequence, 0, messages);

        public Task<PublishOutcome> Publish(string publisher, long sequence, long previous, Immutable<Message[]> messages)
        {
            _calls.Enqueue((sequence, previous, messages.Value));
            if (Refuse is { } refusal)
            {
                return Task.FromException<PublishOutcome>(refusal);
            }

            if (HangNext > 0)
            {
                HangNext--;
                return new TaskCompletionSource<PublishOutcome>().Task;
            }

            if (FailNext > 0)
            {
                FailNext--;
                return Task.FromException<PublishOutcome>(new SiloUnavailableException("the topic's silo died"));
            }

            lock (_gate)
            {
                if (OvertakeNext)
                {
                    OvertakeNext = false;
                    _overtaken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    return _overtaken.Task.ContinueWith(_ => Handle(publisher, sequence, previous, messages.Value), TaskScheduler.Default);
                }

                // Held calls are handled in the order they came, as a grain takes them.
                var prior = _handling;
                var handled = HoldUntil is { } hold
                    ? Task.WhenAll(hold.Task, prior).ContinueWith(_ => Handle(publisher, sequence, previous, messages.Value), TaskScheduler.Default)
                    : Task.FromResult(Handle(publisher, sequence, previous, messages.Value));
                _handling = handled;
                if (_overtaken is { } overtaken)
                {
                    _overtaken = null;
                    handled = handled.ContinueWith(t => { overtaken.SetResult(); return t.Result; }, TaskScheduler.Default);
                }

                return handled;
            }
        }

        private PublishOutcome Handle(string publisher, long sequence, long previous, Message[] messages)
        {
            lock (_gate)
            {
                var outcome = _newest.TryGetValue(publisher, out var newest)
                    ? sequence <= newest ? PublishOutcome.Taken : previous > newest ? PublishOutcome.OutOfOrder : (PublishOutcome?)null
                    : previous == 0 ? null : PublishOutcome.UnknownPublisher;
                if (outcome is null)
                {
                    if (RefuseBody is { } body && messages.Any(m => m.BodyAsString() == body))
                    {
                        throw new ArgumentException("refused");
                    }

                    _newest[publisher] = sequence;
                    foreach (var message in messages)
                    {
                        _taken.Enqueue(message.BodyAsString());
                    }
                }

                var answer = outcome ?? (Stores ? PublishOutcome.Stored : PublishOutcome.Taken);
                _outcomes.Enqueue(answer);
                return answer;
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
