using System.Net;
using OrleansBroker.Internal;
using StackExchange.Redis;

namespace OrleansBroker.Tests.Unit;

public sealed class RedisConnectionTextTests
{
    private const string Secret = "SOMESECRET";

    [Theory]
    [InlineData("10.0.0.5:6379")]
    [InlineData("redis-1:6379,redis-2:6379,password=SOMESECRET,ssl=true")]
    [InlineData("localhost")]
    public void Problem_AValidConnectionString_IsNone(string connectionString) =>
        Assert.Null(RedisConnectionText.Problem("--redis", connectionString, EndpointsOf));

    [Theory]
    [InlineData("127.0.0.1:6379,password=SOMESECRET,abortConnect=maybe", "--redis is not a valid Redis connection string: Keyword 'abortConnect'")]
    [InlineData("127.0.0.1:6379,password=SOMESECRET,connectTimeout=SOMESECRET", "--redis is not a valid Redis connection string: Keyword 'connectTimeout'")]
    [InlineData("127.0.0.1:6379,pasword=SOMESECRET", "--redis is not a valid Redis connection string: Keyword 'pasword' is not supported")]
    [InlineData("redis://:SOMESECRET@127.0.0.1:6379", "--redis names a Redis endpoint that is not host:port")]
    [InlineData("password=SOMESECRET", "--redis names no Redis endpoint")]
    [InlineData("127.0.0.1:notaport,password=SOMESECRET", "--redis names no Redis endpoint")]
    public void Problem_AMalformedConnectionString_IsOneLine_WithoutTheSecret(string connectionString, string expected)
    {
        var problem = RedisConnectionText.Problem("--redis", connectionString, EndpointsOf);
        Assert.NotNull(problem);
        Assert.StartsWith(expected, problem);
        Assert.DoesNotContain(Secret, problem);
        Assert.DoesNotContain('\n', problem);
    }

    [Fact]
    public void Describe_NamesEndpointsOnly() =>
        Assert.Equal("10.0.0.5:6379, redis-2:6380, localhost",
            RedisConnectionText.Describe(EndpointsOf("10.0.0.5:6379,redis-2:6380,localhost,password=SOMESECRET,user=admin")));

    [Fact]
    public void Redact_HidesTheUserAndThePassword() =>
        Assert.Equal("failed for ***** with *****",
            RedisConnectionText.Redact("failed for admin with SOMESECRET", "h:1, password = SOMESECRET ,user=admin"));

    private static IReadOnlyCollection<EndPoint> EndpointsOf(string connectionString) => ConfigurationOptions.Parse(connectionString).EndPoints;
}
