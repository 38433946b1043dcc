namespace OrleansBroker.Tests.Infrastructure;

/// <summary>Topic names unique to one test, so tests sharing a cluster never see each other's messages.</summary>
public static class Topics
{
    public static string Unique(string name = "test") => $"{name}.{Guid.NewGuid():N}";
}
