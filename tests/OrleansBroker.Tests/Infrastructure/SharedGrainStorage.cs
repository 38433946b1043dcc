using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Serialization;
using Orleans.Storage;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// Grain storage that every silo of an in-process cluster shares (one per process), so a killed silo
/// loses none of it, as a real store's would not: Orleans' in-memory storage dies with the silo holding it.
/// Each read and write is a deep copy, as a store's round trip would be.
/// </summary>
public sealed class SharedGrainStorage(DeepCopier copier) : IGrainStorage
{
    private static readonly ConcurrentDictionary<string, object> States = new(StringComparer.Ordinal);
    private static long _etag;

    /// <summary>Registers it as the broker's storage; call before AddBroker.</summary>
    public static void AddTo(ISiloBuilder siloBuilder) =>
        siloBuilder.Services.AddKeyedSingleton<IGrainStorage>(BrokerSiloOptions.StorageName,
            (services, _) => new SharedGrainStorage(services.GetRequiredService<DeepCopier>()));

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (States.TryGetValue(Key(stateName, grainId), out var stored))
        {
            grainState.State = copier.Copy((T)stored);
            grainState.RecordExists = true;
            grainState.ETag = Interlocked.Increment(ref _etag).ToString();
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        States[Key(stateName, grainId)] = copier.Copy(grainState.State)!;
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
