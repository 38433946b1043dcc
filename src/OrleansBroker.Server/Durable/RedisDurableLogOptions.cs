using StackExchange.Redis;

namespace OrleansBroker.Durable;

/// <summary>Where <see cref="RedisDurableLog"/> keeps the logs: a Redis (or Garnet) server and a key prefix.</summary>
public sealed class RedisDurableLogOptions
{
    /// <summary>The store's connection (StackExchange.Redis). Garnet needs Lua on, and its Lua transaction mode, for atomic appends.</summary>
    public ConfigurationOptions? ConfigurationOptions { get; set; }

    /// <summary>
    /// The start of every key; a topic's keys are this, the topic in braces, and a suffix
    /// ("orleansbroker:log:{orders}:messages"), so a Redis Cluster keeps one topic in one slot.
    /// Null: "orleansbroker:" + the cluster's service id + ":log:", so clusters sharing a store stay apart.
    /// </summary>
    public string? KeyPrefix { get; set; }
}
