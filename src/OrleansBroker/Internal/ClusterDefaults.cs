namespace OrleansBroker.Internal;

/// <summary>What the silo program and the command-line client assume when told nothing: they must agree.</summary>
internal static class ClusterDefaults
{
    /// <summary>Orleans' cluster id (and service id) of the broker's silos; gateways refuse clients of another.</summary>
    public const string ClusterId = "orleansbroker";
}
