using System.Text;
using OrleansBroker.Cli;

namespace OrleansBroker.Tests.Unit;

public sealed class MessageBodyTests
{
    [Fact]
    public void Numbered_ReplacesEveryPlaceholder_AndKeepsOtherBytes()
    {
        var body = new MessageBody(Encoding.UTF8.GetBytes("é{n}-{n}{"));
        Assert.True(body.IsNumbered);
        Assert.Equal("é12-12{", Encoding.UTF8.GetString(body.For(12).Span));
    }

    [Fact]
    public void NotNumbered_IsTheSameBytesForEveryMessage()
    {
        var body = new MessageBody(new byte[] { 0, 255, (byte)'{' });
        Assert.False(body.IsNumbered);
        Assert.Equal(body.Bytes.ToArray(), body.For(3).ToArray());
    }

    [Fact]
    public async Task Read_TakesTheWholeStream_AsItCame()
    {
        var bytes = Enumerable.Range(0, 300_000).Select(i => (byte)i).ToArray();
        var body = await MessageBody.ReadAsync(new MemoryStream(bytes), maxBytes: 1 << 20, CancellationToken.None);
        Assert.Equal(bytes, body.Bytes.ToArray());
    }

    [Fact]
    public async Task Read_StopsOneBytePastTheLimit_SoATooLargeBodyIsToldWithoutHoldingIt()
    {
        var body = await MessageBody.ReadAsync(new MemoryStream(new byte[10_000]), maxBytes: 100, CancellationToken.None);
        Assert.Equal(101, body.Bytes.Length);
    }
}
