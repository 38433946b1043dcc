using System.Diagnostics;
using Orleans.Runtime;
using Orleans.Streams;

namespace OrleansBroker.Benchmarks.InProcess;

/// <summary>
/// Deliveries per second from one publisher to N subscribers: each peer gets the same body size
/// and a bounded window of publishes in flight, and is timed from the first publish to the last delivery.
/// </summary>
internal static class Throughput
{
    public static async Task<double> OrleansBrokerAsync(IClusterClient client, int subscribers, int messages, int size)
    {
        await using var broker = new ClusterBroker(client);
        await broker.ConnectAsync();
        var topic = $"bench.{Guid.NewGuid():N}";
        var expected = (long)subscribers * messages;
        var counter = new DeliveryCounter(expected);
        for (var i = 0; i < subscribers; i++)
        {
            await broker.SubscribeAsync(topic, counter.Handler);
        }

        var message = new Message(new byte[size]);
        var clock = Stopwatch.StartNew();
        var window = new Queue<Task>();
        for (var i = 0; i < messages; i++)
        {
            window.Enqueue(broker.PublishAsync(topic, message));
            if (window.Count >= 16_384)
            {
                await window.Dequeue();
            }
        }

        await Task.WhenAll(window);
        await counter.Done.WaitAsync(TimeSpan.FromMinutes(2));
        return expected / clock.Elapsed.TotalSeconds;
    }

    public static async Task<double> MemoryStreamsAsync(IClusterClient client, int subscribers, int messages, int size)
    {
        var stream = client.GetStreamProvider(BenchmarkCluster.StreamProvider)
            .GetStream<byte[]>(StreamId.Create("bench", Guid.NewGuid()));
        var expected = (long)subscribers * messages;
        var counter = new DeliveryCounter(expected);
        var handles = new List<StreamSubscriptionHandle<byte[]>>();
        for (var i = 0; i < subscribers; i++)
        {
            handles.Add(await stream.SubscribeAsync((_, _) => counter.Count()));
        }

        var body = new byte[size];
        var clock = Stopwatch.StartNew();
        // Memory streams refuse more than 16,384 queued events per queue: keep the window well under it.
        var window = new Queue<Task>();
        for (var i = 0; i < messages; i++)
        {
            window.Enqueue(stream.OnNextAsync(body));
            if (window.Count >= 1_000)
            {
                await window.Dequeue();
            }
        }

        await Task.WhenAll(window);
        await counter.Done.WaitAsync(TimeSpan.FromMinutes(2));
        var rate = expected / clock.Elapsed.TotalSeconds;
        foreach (var handle in handles)
        {
            await handle.UnsubscribeAsync();
        }

        return rate;
    }

    private sealed class DeliveryCounter(long expected)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _count;

        public Task Done => _done.Task;

        public MessageHandler Handler => (_, _) => Count();

        public Task Count()
        {
            if (Interlocked.Increment(ref _count) == expected)
            {
                _done.TrySetResult();
            }

            return Task.CompletedTask;
        }
    }
}
