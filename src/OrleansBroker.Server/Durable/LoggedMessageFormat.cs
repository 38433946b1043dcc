using System.Text;

namespace OrleansBroker.Durable;

/// <summary>
/// How a store keeps one message: a format of its own rather than Orleans' serializer, so what is
/// stored does not change with Orleans' wire format. A version byte (1), the header count, each key
/// and value as a length and UTF-8 bytes (lengths as unsigned LEB128 varints), then the body to the end.
/// </summary>
internal static class LoggedMessageFormat
{
    private const byte Version = 1;

    public static byte[] Encode(Message message)
    {
        var bytes = new byte[SizeOf(message)];
        Write(message, bytes);
        return bytes;
    }

    /// <summary>The bytes <see cref="Write"/> takes for <paramref name="message"/>.</summary>
    public static int SizeOf(Message message)
    {
        var header = message.Header;
        var size = 1 + VarintSize((uint)header.Count) + message.Body.Length;
        foreach (var (key, value) in header)
        {
            size += StringSize(key) + StringSize(value ?? "");
        }

        return size;
    }

    /// <summary>Writes <paramref name="message"/> at the start of <paramref name="to"/>, which holds <see cref="SizeOf"/> bytes at least.</summary>
    public static void Write(Message message, Span<byte> to)
    {
        var header = message.Header;
        to[0] = Version;
        var at = 1;
        at += WriteVarint(to[at..], (uint)header.Count);
        foreach (var (key, value) in header)
        {
            at += WriteString(to[at..], key);
            at += WriteString(to[at..], value ?? "");
        }

        message.Body.Span.CopyTo(to[at..]);
    }

    /// <summary>The message in <paramref name="bytes"/>; its body shares them (not copied).</summary>
    /// <exception cref="InvalidDataException">Not a message in this format.</exception>
    public static Message Decode(byte[] bytes)
    {
        if (bytes.Length == 0 || bytes[0] != Version)
        {
            throw new InvalidDataException($"A stored message starts with format version {Version}; this one starts with {(bytes.Length == 0 ? "nothing" : bytes[0])}.");
        }

        var at = 1;
        var count = ReadVarint(bytes, ref at);
        Dictionary<string, string>? header = null;
        if (count > 0)
        {
            header = new Dictionary<string, string>((int)Math.Min(count, 1024), StringComparer.Ordinal);
            for (var i = 0u; i < count; i++)
            {
                var key = ReadString(bytes, ref at);
                header[key] = ReadString(bytes, ref at);
            }
        }

        return new Message(bytes.AsMemory(at), header);
    }

    private static int StringSize(string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        return VarintSize((uint)length) + length;
    }

    private static int WriteString(Span<byte> to, string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        var at = WriteVarint(to, (uint)length);
        return at + Encoding.UTF8.GetBytes(text, to[at..]);
    }

    private static string ReadString(byte[] bytes, ref int at)
    {
        var length = ReadVarint(bytes, ref at);
        if (length > (uint)(bytes.Length - at))
        {
            throw Truncated();
        }

        var text = Encoding.UTF8.GetString(bytes, at, (int)length);
        at += (int)length;
        return text;
    }

    private static int VarintSize(uint value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }

        return size;
    }

    private static int WriteVarint(Span<byte> to, uint value)
    {
        var at = 0;
        while (value >= 0x80)
        {
            to[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        to[at++] = (byte)value;
        return at;
    }

    private static uint ReadVarint(byte[] bytes, ref int at)
    {
        uint value = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            if (at >= bytes.Length)
            {
                throw Truncated();
            }

            var b = bytes[at++];
            value |= (uint)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new InvalidDataException("A stored message holds a length longer than 5 bytes.");
    }

    private static InvalidDataException Truncated() => new("A stored message ends before its header does.");
}
