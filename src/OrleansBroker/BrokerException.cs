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

/// <summary>A broker call that was refused or could not be carried out; <see cref="Code"/> says why.</summary>
public class BrokerException : Exception
{
    public BrokerException(BrokerErrorCode code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    public BrokerErrorCode Code { get; }
}
