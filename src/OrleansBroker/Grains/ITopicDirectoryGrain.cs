namespace OrleansBroker.Grains;

/// <summary>The names of the topics in use, for listing them. One per cluster (key 0); touched only when a topic starts or is forgotten.</summary>
[Alias("OrleansBroker.ITopicDirectoryGrain")]
public interface ITopicDirectoryGrain : IGrainWithIntegerKey
{
    [Alias("Add")]
    Task Add(string topic);

    [Alias("Remove")]
    Task Remove(string topic);

    [Alias("List")]
    Task<string[]> List();
}
