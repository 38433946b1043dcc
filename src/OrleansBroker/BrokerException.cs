namespace OrleansBroker;

/// <summary>Why a <see cref="BrokerException"/> was thrown.</summary>
public enum BrokerErrorCode
{
    /// <summary>Publish or subscribe before <see cref="IBroker.ConnectAsync"/> or after <see cref="IBroker.DisconnectAsync"/>.</summary>
    NotConnected,

    /// <summary>The topic breaks the topic rules (1 to 255 ASCII letters, digits and <c>_ - : /</c> in dot-separated tokens).</summary>
    InvalidTopic,

    /// <summary>The queue breaks the queue rules (null, or 1 to 255 ASCII letters, digits and <c>_ - . :</c>).</summary>
    InvalidQueue,

    /// <summary>A header key is empty or holds a control character or <c>:</c>, or a value is null.</summary>
    InvalidHeader,

    /// <summary>Body plus header keys and values are over <see cref="BrokerOptions.MaxMessageBytes"/> or the silo's limit.</summary>
    MessageTooLarge,

    /// <summary>The cluster could not be reached or did not answer in time.</summary>
    Unavailable,

    /// <summary>A durable subscription of the topic holds <see cref="SubscribeOptions.MaxBacklog"/> messages; nothing was accepted.</summary>
    BacklogFull,
}

/// <summary>
/// A broker call that was refused or could not be carried out; <see cref="Code"/> says why.
/// Serializable, so a silo's refusal reaches the client with its code.
/// </summary>
[GenerateSerializer, Alias("OrleansBroker.BrokerException")]
public class BrokerException : Exception
{
    /// <param name="code">Why the call was refused.</param>
    /// <param name="message">One line for a person.</param>
    /// <param name="innerException">The failure behind it, if any.</param>
    public BrokerException(BrokerErrorCode code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>Why the call was refused; the same on every broker for the same call.</summary>
    [Id(0)]
    public BrokerErrorCode Code { get; private set; }
}
