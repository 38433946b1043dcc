using System.Text;

namespace OrleansBroker;

/// <summary>
/// A message: headers and a body (go-micro's broker.Message). Immutable, so Orleans passes it
/// between grains on one silo without copying the body. Serialized with reference tracking (the
/// default): a batch that holds one instance many times, as a publisher repeating one message makes,
/// carries its body once; without it the in-process benchmark fell to 0.4x (2026-11-28).
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansBroker.Message")]
public sealed class Message
{
    private static readonly IReadOnlyDictionary<string, string> EmptyHeader = new Dictionary<string, string>(0);

    // A private copy of the caller's header, so later changes to theirs cannot reach subscribers.
    [Id(0)] private readonly Dictionary<string, string>? _header;
    [Id(1)] private readonly ReadOnlyMemory<byte> _body;

    // The size plus one, 0 until first asked (not serialized: each process counts once). The
    // client's check and each silo's limits ask for it; a message is immutable, so it never changes.
    [NonSerialized]
    private long _sizePlusOne;

    /// <param name="body">The body; not copied, so the caller must not change it afterwards.</param>
    /// <param name="header">Copied; null or empty: no header.</param>
    public Message(ReadOnlyMemory<byte> body, IReadOnlyDictionary<string, string>? header = null)
    {
        _body = body;
        if (header is { Count: > 0 })
        {
            _header = new Dictionary<string, string>(header.Count, StringComparer.Ordinal);
            foreach (var (key, value) in header)
            {
                _header[key] = value;
            }
        }
    }

    // Takes ownership of a header built here (WithHeader), so it is not copied twice.
    private Message(Dictionary<string, string> header, ReadOnlyMemory<byte> body)
    {
        _header = header;
        _body = body;
    }

    /// <summary>A message whose body is <paramref name="body"/> in UTF-8.</summary>
    public static Message FromString(string body, IReadOnlyDictionary<string, string>? header = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return new Message(Encoding.UTF8.GetBytes(body), header);
    }

    /// <summary>The headers; empty when there are none.</summary>
    public IReadOnlyDictionary<string, string> Header => _header ?? EmptyHeader;

    /// <summary>The body, as given to the constructor.</summary>
    public ReadOnlyMemory<byte> Body => _body;

    /// <summary>The body decoded as UTF-8.</summary>
    public string BodyAsString() => Encoding.UTF8.GetString(_body.Span);

    /// <summary>
    /// This message with one or two more header entries, sharing its body: the bytes are not copied.
    /// The keys must not be in the header already.
    /// </summary>
    internal Message WithHeader(string key, string value, string? key2 = null, string? value2 = null)
    {
        var extra = key2 is null ? 1 : 2;
        var header = new Dictionary<string, string>((_header?.Count ?? 0) + extra, StringComparer.Ordinal);
        if (_header is not null)
        {
            foreach (var (k, v) in _header)
            {
                header[k] = v;
            }
        }

        header.Add(key, value);
        if (key2 is not null)
        {
            header.Add(key2, value2!);
        }

        return new Message(header, _body);
    }

    /// <summary>Body plus header keys and values in UTF-8: what <see cref="BrokerOptions.MaxMessageBytes"/> limits.</summary>
    internal long SizeInBytes()
    {
        var known = Volatile.Read(ref _sizePlusOne);
        if (known > 0)
        {
            return known - 1;
        }

        long size = _body.Length;
        if (_header is not null)
        {
            foreach (var (key, value) in _header)
            {
                size += Encoding.UTF8.GetByteCount(key) + Encoding.UTF8.GetByteCount(value ?? "");
            }
        }

        Volatile.Write(ref _sizePlusOne, size + 1);
        return size;
    }
}
