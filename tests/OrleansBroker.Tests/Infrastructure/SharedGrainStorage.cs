using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Serialization;
using Orleans.Storage;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// Grain storage that every silo of an in-process cluster shares (one per process), so a killed silo
/// loses none of it, as a real store's would not: Orleans' in-memory storage dies with the silo holding it.
/// States are kept as bytes, serialized by the writing silo and deserialized by the reading one, as a real
/// store's round trip does. A deep copy would not do: it hands grain references (a client's observer) over
/// as they are, still bound to the writing silo's runtime, and after that silo is killed a call through one
/// from another silo never reaches its target.
/// </summary>
public sealed class SharedGrainStorage(Serializer serializer) : IGrainStorage
{
    private static readonly ConcurrentDictionary<string, byte[]> States = new(StringComparer.Ordinal);
    private static long _etag;

    /// <summary>Registers it as the broker's storage; call before AddBroker.</summary>
    public static void AddTo(ISiloBuilder siloBuilder) =>
        siloBuilder.Services.AddKeyedSingleton<IGrainStorage>(BrokerSiloOptions.StorageName,
            (services, _) => new SharedGrainStorage(services.GetRequiredService<Serializer>()));

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (States.TryGetValue(Key(stateName, grainId), out var stored))
        {
            grainState.State = serializer.Deserialize<T>(stored);
            grainState.RecordExists = true;
            grainState.ETag = Interlocked.Increment(ref _etag).ToString();
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        States[Key(stateName, grainId)] = serializer.SerializeToArray(grainState.State);
        grainState.RecordExists = true;
        grainState.ETag = Interlocked.Increment(ref _etag).ToString();
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        States.TryRemove(Key(stateName, grainId), out _);
        grainState.RecordExists = false;
        grainState.ETag = null;
        return Task.CompletedTask;
    }

    private static string Key(string stateName, GrainId grainId) => stateName + "|" + grainId;
}
