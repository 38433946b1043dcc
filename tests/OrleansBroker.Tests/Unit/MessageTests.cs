namespace OrleansBroker.Tests.Unit;

public sealed class MessageTests
{
    [Fact]
    public void FromString_IsUtf8_AndHeaderIsACopy()
    {
        var header = new Dictionary<string, string> { ["k"] = "v" };
        var message = Message.FromString("héllo", header);
        header["k"] = "changed";
        Assert.Equal("héllo", message.BodyAsString());
        Assert.Equal(6, message.Body.Length);
        Assert.Equal("v", message.Header["k"]);
    }

    [Fact]
    public void Header_IsNeverNull() => Assert.Empty(new Message(Array.Empty<byte>()).Header);

    [Fact]
    public void FromString_Null_ThrowsArgumentNull() => Assert.Throws<ArgumentNullException>(() => Message.FromString(null!));
}
