using System.Collections.Concurrent;
using OrleansBroker.Grains;
using OrleansBroker.Server.Grains;
using OrleansBroker.Subscriptions;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// A subscriber grain sends a delivery again when its answer is late (an answer can be lost with a
/// gateway that dies), and the client hands each numbered batch to the handler once.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DeliveryResendTests(ClusterFixture fixture)
{
    private IClusterClient Client => fixture.Cluster.Client;

    [Fact]
    public async Task Subscriber_SendsABatchAgainWhenItsAnswerIsLate_UnderTheSameNumber()
    {
        var topic = Topics.Unique("late");
        var observer = new RecordingObserver(firstAnswerAfter: SubscriberGrain.ResendAfter + TimeSpan.FromSeconds(1));
        var reference = Client.CreateObjectReference<IMessageObserver>(observer);
        var subscriber = Client.GetGrain<ISubscriberGrain>(Guid.NewGuid().ToString("N"));
        await using var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        try
        {
            await subscriber.Attach(new SubscriptionSpec(topic, null, 1000), reference);
            await broker.PublishAsync(topic, Message.FromString("a"));

            // The copy is taken only after the slow first call has returned: Orleans runs an observer's calls one at a time.
            await Eventually.WaitUntil(() => observer.Calls.Count >= 2, "the batch to be sent again");
            await broker.PublishAsync(topic, Message.FromString("b"));
            await Eventually.WaitUntil(() => observer.Calls.Any(c => c.Bodies.SequenceEqual(["b"])), "the next batch");

            // The copy carries the original's number and running count; the next batch counts a's message before it.
            var calls = observer.Calls;
            Assert.Equal((calls[0].Sender, calls[0].Sequence, 0L), (calls[1].Sender, calls[1].Sequence, calls[1].SentBefore));
            Assert.Equal(["a"], calls[1].Bodies);
            Assert.True(calls[^1].Sequence > calls[0].Sequence);
            Assert.Equal(1, calls[^1].SentBefore);
        }
        finally
        {
            await subscriber.Detach(Array.Empty<Message>().AsImmutable());
            Client.DeleteObjectReference<IMessageObserver>(reference);
        }
    }

    [Fact]
    public async Task Client_HandsACopyToTheHandlerOnce()
    {
        await using var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        var received = new Collector();
        var sub = (ClusterSubscription)await broker.SubscribeAsync(Topics.Unique("copy"), received.Handler);
        await using var _ = sub;

        await sub.OnMessages(42, 1, 0, Batch("first"));
        await sub.OnMessages(42, 1, 0, Batch("first"));
        await sub.OnMessages(42, 2, 1, Batch("second"));

        await received.WaitForCount(2);
        await sub.OnMessages(42, 2, 1, Batch("second"));
        await sub.OnMessagesWithoutAnswer(42, 2, 1, Batch("second"));
        await sub.OnMessages(43, 1, 0, Batch("from a new activation"));
        await received.WaitForCount(3);
        Assert.Equal(["first", "second", "from a new activation"], received.Bodies);
    }

    [Fact]
    public async Task Client_HandsAContinuedSendersDeliveriesToTheHandlerInItsOrder_ThoughTheyArriveOutOfIt()
    {
        await using var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        var received = new Collector();
        var sub = (ClusterSubscription)await broker.SubscribeAsync(Topics.Unique("reorder"), received.Handler);
        await using var _ = sub;

        await sub.OnMessages(42, 1, 0, Batch("a"));

        // A grain moved gracefully: its next activation carries on the numbering (4), and its first delivery
        // arrives before the old activation's one-way calls, which arrive reversed. An early delivery is answered
        // at once: Orleans runs an observer's calls one at a time, so the one that fills the gap runs only after it.
        Assert.True(await sub.OnMessages(42, 4, 3, Batch("d")).WaitAsync(AnswerWithin));
        await sub.OnMessagesWithoutAnswer(42, 3, 2, Batch("c")).WaitAsync(AnswerWithin);
        await sub.OnMessagesWithoutAnswer(42, 2, 1, Batch("b")).WaitAsync(AnswerWithin);

        // The old activation's one-way copy of the delivery it had in flight, and a late answer's copy: the same numbers.
        await sub.OnMessagesWithoutAnswer(42, 2, 1, Batch("b"));
        await sub.OnMessages(42, 4, 3, Batch("d"));
        await sub.OnMessages(42, 5, 4, Batch("e"));

        await Eventually.WaitUntil(() => received.Bodies.Contains("e"), "e");
        Assert.Equal(["a", "b", "c", "d", "e"], received.Bodies);
    }

    [Fact]
    public async Task Client_CountsTheMessagesOfADeliveryThatNeverArrives_WhenItGivesUpOnItsGap_AndALateOneNotAgain()
    {
        await using var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("gap");
        var received = new Collector();
        var sub = (ClusterSubscription)await broker.SubscribeAsync(topic, received.Handler);
        await using var _ = sub;

        await sub.OnMessages(42, 1, 0, Batch("a"));
        await received.WaitForCount(1);
        var gapOpened = DateTime.UtcNow;

        // Delivery 2 (b1-b3) is lost on the way, as a one-way call can be; 3 says its sender had sent 4 messages before it.
        await sub.OnMessages(42, 3, 4, Batch("c")).WaitAsync(AnswerWithin);

        // c waits for 2 as long as the bound, then goes on without it; 2's 3 messages are counted from the counts.
        await received.WaitForCount(2, GapBound + TimeSpan.FromSeconds(5));
        Assert.True(DateTime.UtcNow - gapOpened >= GapBound - TimeSpan.FromMilliseconds(100), "c waited for the gap to fill");
        Assert.Equal(["a", "c"], received.Bodies);
        await Eventually.WaitUntil(async () => (await broker.GetTopicAsync(topic))!.Dropped == 3, "the missing delivery's 3 messages counted as dropped");

        // Delivery 2 arrives after all (twice): too late to keep the order, and counted already, so only logged.
        await sub.OnMessagesWithoutAnswer(42, 2, 1, Batch("b1", "b2", "b3"));
        await sub.OnMessagesWithoutAnswer(42, 2, 1, Batch("b1", "b2", "b3"));
        await sub.OnMessages(42, 4, 5, Batch("d"));
        await received.WaitForCount(3);
        Assert.Equal(["a", "c", "d"], received.Bodies);
        Assert.Equal(3, (await broker.GetTopicAsync(topic))!.Dropped);
    }

    [Fact]
    public async Task Client_HandsBackWhatItHeldForAGap_WhenUnsubscribed_SoTheQueueGroupTakesIt_AndCountsTheGap()
    {
        await using var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("heldback");
        var left = new Collector();
        var leaving = (ClusterSubscription)await broker.SubscribeAsync(topic, left.Handler, new SubscribeOptions { Queue = "workers" });
        var staying = new Collector();
        await using var _ = await broker.SubscribeAsync(topic, staying.Handler, new SubscribeOptions { Queue = "workers" });

        await leaving.OnMessages(42, 1, 0, Batch("a"));
        await left.WaitForCount(1);
        await leaving.OnMessages(42, 3, 2, Batch("c")).WaitAsync(AnswerWithin);

        // Delivery 2 (one message, by c's running count) never comes: the unsubscribe waits for it as long as the
        // gap would be held, then counts it, and hands c back for the rest of the group.
        await leaving.UnsubscribeAsync();
        Assert.Equal(1, (await broker.GetTopicAsync(topic))!.Dropped);
        await staying.WaitForCount(1);
        Assert.Equal(["c"], staying.Bodies);
    }

    private static readonly TimeSpan AnswerWithin = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan GapBound = DeliveryWindow<Message[]>.GapTimeout;

    private static Immutable<Message[]> Batch(params string[] bodies) => bodies.Select(b => Message.FromString(b)).ToArray().AsImmutable();

    /// <summary>An observer that records every call and answers the first one late.</summary>
    private sealed class RecordingObserver(TimeSpan firstAnswerAfter) : IMessageObserver
    {
        private readonly ConcurrentQueue<(long Sender, long Sequence, long SentBefore, string[] Bodies)> _calls = new();

        public IReadOnlyList<(long Sender, long Sequence, long SentBefore, string[] Bodies)> Calls => _calls.ToArray();

        public async Task<bool> OnMessages(long sender, long sequence, long sentBefore, Immutable<Message[]> messages)
        {
            _calls.Enqueue((sender, sequence, sentBefore, messages.Value.Select(m => m.BodyAsString()).ToArray()));
            if (_calls.Count == 1)
            {
                // A client too busy to answer in time: the grain must not wait its whole response timeout.
                await Task.Delay(firstAnswerAfter);
            }

            return true;
        }

        public Task OnMessagesWithoutAnswer(long sender, long sequence, long sentBefore, Immutable<Message[]> messages) => OnMessages(sender, sequence, sentBefore, messages);

        public Task<bool> OnDurableMessages(long sender, long sequence, Immutable<Message[]> messages, Subscriptions.DeliveryTag[] tags) => OnMessages(sender, sequence, 0, messages);

        public Task OnDurableMessagesWithoutAnswer(long sender, long sequence, Immutable<Message[]> messages, Subscriptions.DeliveryTag[] tags) => OnMessages(sender, sequence, 0, messages);

        public Task OnEnded() => Task.CompletedTask;
    }
}
