namespace OrleansBroker.Memory;

/// <summary>Where a kept message of a <see cref="MemoryDurable"/> is.</summary>
internal enum DurableEntryState
{
    /// <summary>Waiting for a member, in publish order.</summary>
    Ready,

    /// <summary>Handed to a member, waiting for its ack.</summary>
    Out,

    /// <summary>Nakked or failed: waiting out its delay before it is ready again.</summary>
    Delayed,

    /// <summary>Acked, dead-lettered or deleted with its subscription.</summary>
    Gone,
}

/// <summary>One message a durable subscription keeps until a member acks it or it is dead-lettered.</summary>
internal sealed class DurableEntry
{
    public DurableEntry(long sequence, Message message)
    {
        Sequence = sequence;
        Message = message;
        DeadlineNode = new LinkedListNode<DurableEntry>(this);
    }

    /// <summary>Its place in the subscription, in publish order.</summary>
    public long Sequence { get; }

    public Message Message { get; }

    public DurableEntryState State { get; set; }

    /// <summary>Deliveries so far; while <see cref="State"/> is Out, the number of the one in progress.</summary>
    public int Deliveries { get; set; }

    /// <summary>The member it was handed to while Out; null otherwise.</summary>
    public MemoryDurableMember? Holder { get; set; }

    /// <summary>
    /// The holder's handler has begun it: its AckWait runs, and giving it back counts the delivery.
    /// One still queued behind another message was never seen, so it is neither timed nor counted.
    /// </summary>
    public bool Received { get; set; }

    /// <summary>When its AckWait deadline or its delay ends.</summary>
    public DateTimeOffset DueAt { get; set; }

    /// <summary>Its place among the AckWait deadlines: one node for its whole life, so timing a delivery allocates nothing.</summary>
    public LinkedListNode<DurableEntry> DeadlineNode { get; }
}
