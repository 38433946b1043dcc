using OrleansBroker.Subscriptions;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// What a durable member holds for its client, taken lowest sequence first; a redelivery replaces the copy
/// it holds of the same message. A dictionary finds a message by sequence and a heap of sequences keeps the
/// order: both arrays, so holding a message allocates nothing per message (a sorted tree did, per node).
/// </summary>
internal sealed class DurableMemberQueue
{
    private readonly Dictionary<long, (Message Message, DeliveryTag Tag)> _held = [];
    private readonly PriorityQueue<long, long> _order = new();

    public int Count => _held.Count;

    /// <summary>The bytes of what is held.</summary>
    public long Bytes { get; private set; }

    public IEnumerable<long> Sequences => _held.Keys;

    /// <summary>True when <paramref name="sequence"/> is held already (its copy is replaced, whatever the budget).</summary>
    public bool Holds(long sequence) => _held.ContainsKey(sequence);

    /// <summary>Holds the message, replacing an older copy of it.</summary>
    public void Put(Message message, DeliveryTag tag)
    {
        if (_held.TryGetValue(tag.Sequence, out var older))
        {
            Bytes -= older.Message.SizeInBytes();
        }
        else
        {
            _order.Enqueue(tag.Sequence, tag.Sequence);
        }

        _held[tag.Sequence] = (message, tag);
        Bytes += message.SizeInBytes();
    }

    /// <summary>
    /// The lowest sequences held, at most <paramref name="maxMessages"/> and <paramref name="maxBytes"/>
    /// (a single larger message goes alone), no longer held; <paramref name="bytes"/> is what they weigh.
    /// </summary>
    public (Message[] Batch, DeliveryTag[] Tags) Take(int maxMessages, long maxBytes, out long bytes)
    {
        var messages = new List<Message>(Math.Min(_held.Count, maxMessages));
        var tags = new List<DeliveryTag>(messages.Capacity);
        bytes = 0;
        while (messages.Count < maxMessages && _order.TryPeek(out var sequence, out _))
        {
            var (message, tag) = _held[sequence];
            var size = message.SizeInBytes();
            if (messages.Count > 0 && bytes + size > maxBytes)
            {
                break;
            }

            _order.Dequeue();
            _held.Remove(sequence);
            messages.Add(message);
            tags.Add(tag);
            bytes += size;
        }

        Bytes -= bytes;
        return (messages.ToArray(), tags.ToArray());
    }

    public void Clear()
    {
        _held.Clear();
        _order.Clear();
        Bytes = 0;
    }
}
