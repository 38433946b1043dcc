using OrleansBroker.Grains;
using OrleansBroker.Subscriptions;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Cluster;

/// <summary>Subscriptions in grains: they survive idle collection, and ending them leaves nothing behind.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SubscriptionLifecycleTests(ClusterFixture fixture)
{
    private IClusterClient Client => fixture.Cluster.Client;

    [Fact]
    public async Task Subscriptions_SurviveForcedIdleCollection()
    {
        await using var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("idle");
        var broadcast = new Collector();
        var member = new Collector();
        await using var a = await broker.SubscribeAsync(topic, broadcast.Handler);
        await using var b = await broker.SubscribeAsync(topic, member.Handler, new SubscribeOptions { Queue = "workers" });
        await broker.PublishAsync(topic, Message.FromString("before"));
        await broadcast.WaitForCount(1);
        await member.WaitForCount(1);

        // This test's own three grains, not a count that other tests' collected grains could lower.
        string[] subscriptions = [((ClusterSubscription)a).Id, ((ClusterSubscription)b).Id];
        Assert.Equal(3, await ActiveOf(topic, subscriptions));
        await Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        await Eventually.WaitUntil(async () => await ActiveOf(topic, subscriptions) == 0, "this test's topic and subscriber grains to be collected");

        await broker.PublishAsync(topic, Message.FromString("after"));
        await broadcast.WaitForCount(2);
        await member.WaitForCount(2);
        Assert.Equal(["before", "after"], broadcast.Bodies);
        Assert.Equal(["before", "after"], member.Bodies);
        var info = await broker.GetTopicAsync(topic);
        Assert.Equal(2, info!.Subscribers);
        Assert.Equal(1, info.QueueGroups["workers"]);
        Assert.Equal(2, info.Published);
    }

    [Fact]
    public async Task Unsubscribe_LeavesNoStateInAnyGrain()
    {
        await using var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("leave");
        var sub = (ClusterSubscription)await broker.SubscribeAsync(topic, new Collector().Handler, new SubscribeOptions { Queue = "q" });
        Assert.True(await Client.GetGrain<ISubscriberGrain>(sub.Id).Renew());

        await sub.UnsubscribeAsync();

        var info = await broker.GetTopicAsync(topic);
        Assert.Equal(0, info!.Subscribers);
        Assert.Empty(info.QueueGroups);
        Assert.False(await Client.GetGrain<ISubscriberGrain>(sub.Id).Renew(), "the subscriber grain forgot the subscription");
    }

    [Fact]
    public async Task Disconnect_LeavesNoStateInAnyGrain()
    {
        var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("disconnect");
        var subs = new List<ClusterSubscription>();
        for (var i = 0; i < 5; i++)
        {
            subs.Add((ClusterSubscription)await broker.SubscribeAsync(topic, new Collector().Handler,
                new SubscribeOptions { Queue = i % 2 == 0 ? null : "q" }));
        }

        Assert.Equal(5, (await broker.GetTopicAsync(topic))!.Subscribers);
        await broker.DisconnectAsync();

        await using var admin = new ClusterBroker(Client);
        var info = await admin.GetTopicAsync(topic);
        Assert.Equal(0, info!.Subscribers);
        Assert.Empty(info.QueueGroups);
        foreach (var sub in subs)
        {
            Assert.False(await Client.GetGrain<ISubscriberGrain>(sub.Id).Renew());
        }
    }

    [Fact]
    public async Task PublishingToEverNewTopics_KeepsNoBatcherForIdleOnes_AndAFreshOneServesTheNextPublish()
    {
        await using var broker = new ClusterBroker(Client) { BatcherIdleTimeout = TimeSpan.Zero };
        await broker.ConnectAsync();
        var topics = Enumerable.Range(0, 200).Select(i => Topics.Unique($"entity{i}")).ToList();
        await Task.WhenAll(topics.Select(t => broker.PublishAsync(t, Message.FromString("x"))));

        await Eventually.WaitUntil(() => broker.BatcherCount == 0, $"the idle batchers to retire (have {broker.BatcherCount})");
        var collector = new Collector();
        await using var sub = await broker.SubscribeAsync(topics[0], collector.Handler);
        await broker.PublishAsync(topics[0], Message.FromString("again"));
        await collector.WaitForCount(1);
        Assert.Equal(["again"], collector.Bodies);
    }

    [Fact]
    public async Task UnusedTopic_IsForgottenWhenCollected()
    {
        await using var broker = new ClusterBroker(Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("forgotten");
        var sub = await broker.SubscribeAsync(topic, new Collector().Handler);
        await broker.PublishAsync(topic, Message.FromString("x"));
        await sub.UnsubscribeAsync();
        Assert.Contains(await broker.ListTopicsAsync(), t => t.Topic == topic);

        await Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

        await Eventually.WaitUntil(async () => (await broker.ListTopicsAsync()).All(t => t.Topic != topic), "the unused topic to be forgotten");
        Assert.Null(await broker.GetTopicAsync(topic));
    }

    /// <summary>How many of the named topic and subscriber grains are active in the cluster.</summary>
    private async Task<int> ActiveOf(string topic, IReadOnlyCollection<string> subscriptions)
    {
        var management = Client.GetGrain<IManagementGrain>(0);
        var topics = await management.GetActiveGrains(GrainType.Create(BrokerGrainTypes.Topic));
        var subscribers = await management.GetActiveGrains(GrainType.Create(BrokerGrainTypes.Subscriber));
        return topics.Distinct().Count(g => g.Key.ToString() == topic)
            + subscribers.Distinct().Count(g => subscriptions.Contains(g.Key.ToString()!));
    }
}
