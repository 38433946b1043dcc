namespace OrleansBroker;

public enum BrokerErrorCode
{
    NotConnected,
    InvalidTopic,
    InvalidQueue,
    InvalidHeader,
    MessageTooLarge,
    Unavailable,
}

/// <summary>
/// A broker call that was refused or could not be carried out; <see cref="Code"/> says why.
/// Serializable, so a silo's refusal reaches the client with its code.
/// </summary>
[GenerateSerializer, Alias("OrleansBroker.BrokerException")]
public class BrokerException : Exception
{
    public BrokerException(BrokerErrorCode code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    [Id(0)]
    public BrokerErrorCode Code { get; private set; }
}
