namespace OrleansBroker.Server.Grains;

/// <summary>The set of topics in use, kept in grain storage.</summary>
internal sealed class TopicDirectoryGrain(
    [PersistentState("topics", BrokerSiloOptions.StorageName)] IPersistentState<HashSet<string>> state)
    : Grain, OrleansBroker.Grains.ITopicDirectoryGrain
{
    public async Task Add(string topic)
    {
        if (state.State.Add(topic))
        {
            await state.WriteStateAsync();
        }
    }

    public async Task Remove(string topic)
    {
        if (state.State.Remove(topic))
        {
            await state.WriteStateAsync();
        }
    }

    public Task<string[]> List() => Task.FromResult(state.State.ToArray());
}
