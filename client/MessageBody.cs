using System.Text;

namespace OrleansBroker.Cli;

/// <summary>
/// The body pub sends: the bytes given, with each "{n}" in them replaced by the message's number
/// (1..N) when there is one. Bytes, not text, so a body read from standard input goes as it came.
/// </summary>
internal sealed class MessageBody
{
    private static readonly byte[] Placeholder = "{n}"u8.ToArray();

    private readonly ReadOnlyMemory<byte> _bytes;

    public MessageBody(ReadOnlyMemory<byte> bytes)
    {
        _bytes = bytes;
        IsNumbered = bytes.Span.IndexOf(Placeholder) >= 0;
    }

    /// <summary>Whether the body holds "{n}", so each message differs.</summary>
    public bool IsNumbered { get; }

    public ReadOnlyMemory<byte> Bytes => _bytes;

    /// <summary>The body of message number <paramref name="n"/>.</summary>
    public ReadOnlyMemory<byte> For(long n)
    {
        if (!IsNumbered)
        {
            return _bytes;
        }

        // "{n}" is ASCII, so it never matches inside a multi-byte UTF-8 character: replacing bytes is safe.
        var number = Encoding.ASCII.GetBytes(n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var output = new List<byte>(_bytes.Length + 16);
        var rest = _bytes.Span;
        int at;
        while ((at = rest.IndexOf(Placeholder)) >= 0)
        {
            output.AddRange(rest[..at]);
            output.AddRange(number);
            rest = rest[(at + Placeholder.Length)..];
        }

        output.AddRange(rest);
        return output.ToArray();
    }

    /// <summary>
    /// Reads the whole of <paramref name="input"/> (standard input), but no more than
    /// <paramref name="maxBytes"/> plus one: enough to tell a body that is too large without holding all of it.
    /// </summary>
    public static async Task<MessageBody> ReadAsync(Stream input, int maxBytes, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while (buffer.Length <= maxBytes && (read = await input.ReadAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, maxBytes + 1L - buffer.Length)), cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, read);
        }

        return new MessageBody(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
    }
}
