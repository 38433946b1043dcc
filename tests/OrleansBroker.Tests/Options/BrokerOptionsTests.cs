using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Options;

/// <summary>
/// BrokerOptions as both brokers take them: copied when the broker is built, validated once,
/// and never changed through an instance a caller still holds.
/// </summary>
public abstract class BrokerOptionsTests
{
    /// <summary>A new broker, not yet connected.</summary>
    protected abstract IBroker CreateBroker(BrokerOptions? options = null);

    [Fact]
    public async Task ChangingTheCallersInstance_AfterConstruction_ChangesNothing()
    {
        var reported = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new BrokerOptions
        {
            MaxMessageBytes = 100,
            ErrorHandler = (_, _) => Task.FromResult(reported.TrySetResult("the handler given at construction")),
        };
        await using var broker = CreateBroker(options);
        options.MaxMessageBytes = 10;
        options.ErrorHandler = (_, _) => Task.FromResult(reported.TrySetResult("a handler set afterwards"));
        await broker.ConnectAsync();
        var topic = Topics.Unique();
        await broker.SubscribeAsync(topic, (_, _) => throw new InvalidOperationException("handler failed"));

        // 50 bytes: over the 10 set afterwards, within the 100 the broker was built with.
        await broker.PublishAsync(topic, Message.FromString(new string('x', 50)));

        Assert.Equal("the handler given at construction", await reported.Task.WaitAsync(Eventually.DefaultTimeout));
        Assert.Equal(100, broker.Options.MaxMessageBytes);
    }

    [Fact]
    public async Task ChangingTheOptionsTheBrokerReturns_ChangesNothing()
    {
        await using var broker = CreateBroker(new BrokerOptions { MaxMessageBytes = 100 });
        broker.Options.MaxMessageBytes = 10;
        await broker.ConnectAsync();
        var topic = Topics.Unique();

        await broker.PublishAsync(topic, Message.FromString(new string('x', 100)));
        var tooLarge = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(topic, Message.FromString(new string('x', 101))));

        Assert.Equal(BrokerErrorCode.MessageTooLarge, tooLarge.Code);
        Assert.Equal(100, broker.Options.MaxMessageBytes);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void MaxMessageBytes_UnderOne_ThrowsArgumentOutOfRange_NamingIt(int maxMessageBytes)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => CreateBroker(new BrokerOptions { MaxMessageBytes = maxMessageBytes }));

        Assert.Equal(nameof(BrokerOptions.MaxMessageBytes), error.ParamName);
        Assert.Equal(maxMessageBytes, error.ActualValue);
        Assert.Contains("BrokerOptions.MaxMessageBytes must be at least 1", error.Message);
    }

    [Fact]
    public async Task MaxMessageBytes_One_IsTheSmallestLimit()
    {
        await using var broker = CreateBroker(new BrokerOptions { MaxMessageBytes = 1 });
        await broker.ConnectAsync();
        var topic = Topics.Unique();

        await broker.PublishAsync(topic, Message.FromString("x"));
        var tooLarge = await Assert.ThrowsAsync<BrokerException>(() => broker.PublishAsync(topic, Message.FromString("xy")));

        Assert.Equal(BrokerErrorCode.MessageTooLarge, tooLarge.Code);
    }

    [Fact]
    public async Task NullOptions_AreTheDefaults()
    {
        await using var broker = CreateBroker();

        Assert.Equal(new BrokerOptions(), broker.Options);
        Assert.Equal(BrokerOptions.DefaultMaxMessageBytes, broker.Options.MaxMessageBytes);
        Assert.Null(broker.Options.ErrorHandler);
    }
}
