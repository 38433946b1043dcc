using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.TestingHost;
using Orleans.Storage;
using OrleansBroker.Subscriptions;
using OrleansBroker.Server.Grains;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// The store is off the topic's hot path: with the broker's storage stalled (a store that answers
/// only when the test lets it), subscribing and publishing go on, and the subscriptions are stored
/// once the store answers again.
/// </summary>
public sealed class TopicStoreTests : OwnClusterTest<TopicStoreTests.SiloConfigurator>
{
    protected override void BeforeDispose() => StalledStore.Answer();

    [Fact]
    public async Task SubscribeAndPublish_DoNotWaitForTheStore_AndTheSetIsStoredOnceItAnswers()
    {
        await using var broker = new ClusterBroker(Cluster.Client);
        await broker.ConnectAsync();
        var topic = Topics.Unique("stalledstore");
        var collector = new Collector();

        // Each subscribe waited for a rewrite of the whole set, and publishes queued behind them.
        var subscribers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            broker.SubscribeAsync(topic, collector.Handler, new SubscribeOptions { Queue = "workers" }))).WaitAsync(TimeSpan.FromSeconds(20));
        await broker.PublishAsync(topic, Message.FromString("not held back")).WaitAsync(TimeSpan.FromSeconds(20));
        await collector.WaitForCount(1);
        Assert.Equal(20, (await broker.GetTopicAsync(topic))!.Subscribers);
        Assert.Empty(StalledStore.Stored(topic));

        StalledStore.Answer();
        var ids = subscribers.Select(s => ((ClusterSubscription)s).Id).Order().ToList();
        await Eventually.WaitUntil(() => StalledStore.Stored(topic).Order().SequenceEqual(ids), "the whole set to be stored");
        foreach (var subscriber in subscribers)
        {
            await subscriber.UnsubscribeAsync();
        }

        await Eventually.WaitUntil(() => StalledStore.Stored(topic).Count == 0, "the emptied set to be stored");
    }

    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddKeyedSingleton<IGrainStorage, StalledStore>(BrokerSiloOptions.StorageName);
            siloBuilder.AddBroker();
        }
    }

    /// <summary>Grain storage whose topic writes wait until <see cref="Answer"/>; records the last subscription set written per topic.</summary>
    private sealed class StalledStore : IGrainStorage
    {
        private static readonly TaskCompletionSource Answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private static readonly ConcurrentDictionary<string, string[]> Written = new();

        public static void Answer() => Answered.TrySetResult();

        public static IReadOnlyList<string> Stored(string topic) => Written.GetValueOrDefault(topic, []);

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.CompletedTask;

        public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            if (grainState.State is TopicState topicState)
            {
                var written = topicState.Subscriptions.Keys.ToArray();
                await Answered.Task;
                Written[grainId.Key.ToString()!] = written;
            }

            grainState.RecordExists = true;
        }

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            grainState.RecordExists = false;
            return Task.CompletedTask;
        }
    }
}
