namespace OrleansBroker.Internal;

/// <summary>
/// The input rules every broker keeps, checked at the API before anything changes
/// (as NATS' SubjectValidator), so both brokers refuse exactly the same calls.
/// </summary>
internal static class Validation
{
    public const int MaxNameLength = 255;

    public static void ValidateTopic(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        var error = TopicError(topic);
        if (error is not null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidTopic, $"Invalid topic '{Printable(topic)}': {error}.");
        }
    }

    /// <summary>
    /// A topic that may be subscribed, looked up or have its durables deleted: any valid topic, and
    /// the broker's dead-letter topics (<see cref="DeadLetter.TopicOf"/>), which only the broker publishes to.
    /// </summary>
    public static void ValidateReadableTopic(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (!topic.StartsWith(DeadLetter.TopicPrefix, StringComparison.Ordinal))
        {
            ValidateTopic(topic);
            return;
        }

        // "$DLQ." + topic + "." + queue: longer than a topic may be, and the queue part may hold any queue character.
        var rest = topic.AsSpan(DeadLetter.TopicPrefix.Length);
        var error = rest.Length switch
        {
            0 => "it names no topic",
            > (2 * MaxNameLength) + 1 => "it is longer than a dead-letter topic can be",
            _ => null,
        };
        foreach (var c in rest)
        {
            if (error is not null)
            {
                break;
            }

            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '-' or ':' or '/' or '.'))
            {
                error = $"'{Printable(c.ToString())}' is not allowed";
            }
        }

        if (error is not null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidTopic, $"Invalid topic '{Printable(topic)}': {error}.");
        }
    }

    public static void ValidateQueue(string? queue)
    {
        if (queue is null)
        {
            return;
        }

        var error = queue.Length switch
        {
            0 => "it is empty",
            > MaxNameLength => $"it is longer than {MaxNameLength} characters",
            _ => null,
        };
        foreach (var c in queue)
        {
            if (error is not null)
            {
                break;
            }

            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '-' or '.' or ':'))
            {
                error = $"'{Printable(c.ToString())}' is not allowed (use ASCII letters, digits and _ - . :)";
            }
        }

        if (error is not null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidQueue, $"Invalid queue '{Printable(queue)}': {error}.");
        }
    }

    /// <summary>Checks the header keys and the size against <paramref name="maxMessageBytes"/>; returns the size.</summary>
    public static long ValidateMessage(Message message, int maxMessageBytes)
    {
        ArgumentNullException.ThrowIfNull(message);
        foreach (var (key, value) in message.Header)
        {
            if (string.IsNullOrEmpty(key))
            {
                throw new BrokerException(BrokerErrorCode.InvalidHeader, "Invalid header: a key is empty.");
            }

            foreach (var c in key)
            {
                if (char.IsControl(c) || c == ':')
                {
                    throw new BrokerException(BrokerErrorCode.InvalidHeader,
                        $"Invalid header key '{Printable(key)}': it holds a control character or ':'.");
                }
            }

            if (value is null)
            {
                throw new BrokerException(BrokerErrorCode.InvalidHeader, $"Invalid header '{Printable(key)}': its value is null.");
            }
        }

        var size = message.SizeInBytes();
        if (size > maxMessageBytes)
        {
            throw new BrokerException(BrokerErrorCode.MessageTooLarge,
                $"Message of {size} bytes is larger than MaxMessageBytes ({maxMessageBytes}).");
        }

        return size;
    }

    /// <summary>
    /// A subscription id as clients make them (a GUID's 32 hex digits), or any 1 to 255 ASCII
    /// letters, digits, '-' and '_': the silos refuse anything else from a caller that is not our client.
    /// </summary>
    public static void ValidateSubscriptionId(string subscriptionId)
    {
        ArgumentNullException.ThrowIfNull(subscriptionId);
        if (subscriptionId.Length is 0 or > MaxNameLength || !subscriptionId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new ArgumentException($"Invalid subscription id '{Printable(subscriptionId)}'.", nameof(subscriptionId));
        }
    }

    /// <summary>
    /// A broker's own copy of <paramref name="options"/> (the defaults for null), validated: the
    /// copy is what is checked, so a caller changing its instance later cannot undo the check.
    /// </summary>
    public static BrokerOptions CopyBrokerOptions(BrokerOptions? options)
    {
        var copy = options is null ? new BrokerOptions() : options with { };
        if (BrokerOptionsError(copy) is { } error)
        {
            throw new ArgumentOutOfRangeException(error.Property, error.Value, error.Message);
        }

        return copy;
    }

    /// <summary>The first rule <paramref name="options"/> breaks, or null: one rule set for constructors and DI.</summary>
    public static (string Property, object Value, string Message)? BrokerOptionsError(BrokerOptions options)
    {
        if (options.MaxMessageBytes < 1)
        {
            return (nameof(BrokerOptions.MaxMessageBytes), options.MaxMessageBytes,
                $"{nameof(BrokerOptions)}.{nameof(BrokerOptions.MaxMessageBytes)} must be at least 1; it is {options.MaxMessageBytes}.");
        }

        if (options.PublishTimeout <= TimeSpan.Zero && options.PublishTimeout != Timeout.InfiniteTimeSpan)
        {
            return (nameof(BrokerOptions.PublishTimeout), options.PublishTimeout,
                $"{nameof(BrokerOptions)}.{nameof(BrokerOptions.PublishTimeout)} must be positive, or Timeout.InfiniteTimeSpan; it is {options.PublishTimeout}.");
        }

        return null;
    }

    /// <summary>Both brokers' refusal of a publish or subscribe before ConnectAsync (or after DisconnectAsync).</summary>
    public static void ThrowIfNotConnected(bool connected)
    {
        if (!connected)
        {
            throw new BrokerException(BrokerErrorCode.NotConnected, "The broker is not connected: call ConnectAsync first.");
        }
    }

    public static SubscribeOptions ValidateSubscribeOptions(SubscribeOptions? options)
    {
        options ??= new SubscribeOptions();
        ValidateQueue(options.Queue);
        if (options.Durable && options.Queue is null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidQueue,
                "A durable subscription needs a queue: the pair (topic, queue) names it.");
        }

        AtLeastOne(options.MaxPending, nameof(SubscribeOptions.MaxPending));
        AtLeastOne(options.MaxDeliver, nameof(SubscribeOptions.MaxDeliver));
        AtLeastOne(options.MaxAckPending, nameof(SubscribeOptions.MaxAckPending));
        AtLeastOne(options.MaxBacklog, nameof(SubscribeOptions.MaxBacklog));
        if (options.AckWait <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.AckWait,
                $"{nameof(SubscribeOptions.AckWait)} must be positive.");
        }

        return options;
    }

    /// <summary>A <see cref="IEvent.NakAsync"/> delay: null (the backoff), zero (at once) or positive.</summary>
    public static void ValidateNakDelay(TimeSpan? delay)
    {
        if (delay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(delay), delay, "The delay must not be negative.");
        }
    }

    private static void AtLeastOne(long value, string name)
    {
        if (value < 1)
        {
            throw new ArgumentOutOfRangeException("options", value, $"{name} must be at least 1.");
        }
    }

    private static string? TopicError(string topic)
    {
        if (topic.Length == 0)
        {
            return "it is empty";
        }

        if (topic.Length > MaxNameLength)
        {
            return $"it is longer than {MaxNameLength} characters";
        }

        if (topic[0] == '$')
        {
            return "a leading '$' is reserved for the broker's own topics";
        }

        var tokenLength = 0;
        foreach (var c in topic)
        {
            if (c == '.')
            {
                if (tokenLength == 0)
                {
                    return "it has an empty token";
                }

                tokenLength = 0;
                continue;
            }

            if (c is '*' or '>')
            {
                return $"'{c}' is reserved for patterns";
            }

            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '-' or ':' or '/'))
            {
                return $"'{Printable(c.ToString())}' is not allowed (use ASCII letters, digits and _ - : / in dot-separated tokens)";
            }

            tokenLength++;
        }

        return tokenLength == 0 ? "it has an empty token" : null;
    }

    // Error messages stay on one line and readable whatever the caller passed.
    private static string Printable(string value)
    {
        var shown = value.Length > 64 ? value[..64] + "..." : value;
        return string.Create(shown.Length, shown, (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? '?' : source[i];
            }
        });
    }
}
