using Microsoft.Extensions.Options;

namespace OrleansBroker;

/// <summary>Options of the broker's grains on a silo, set with <c>AddBroker</c>.</summary>
public class BrokerSiloOptions
{
    /// <summary>
    /// The grain storage the broker keeps topic and subscription state in. <c>AddBroker</c> adds
    /// in-memory storage under this name unless a storage of this name is already registered.
    /// </summary>
    public const string StorageName = "OrleansBroker";

    /// <summary>
    /// A subscription whose client stops renewing it is removed after this long;
    /// clients learn it from the silo and renew well inside it.
    /// </summary>
    public TimeSpan SubscriptionLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The shortest <see cref="SubscriptionLease"/>: clients renew a third of the way in, and ticks are 250 ms apart at worst.</summary>
    public static readonly TimeSpan MinSubscriptionLease = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The largest message the silo accepts (body plus header keys and values, UTF-8), whatever a
    /// client's <see cref="BrokerOptions.MaxMessageBytes"/> says: a larger one is refused with
    /// <see cref="BrokerErrorCode.MessageTooLarge"/>. Raise it with the clients' limit.
    /// </summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>The largest <see cref="SubscribeOptions.MaxPending"/> a subscription may ask for; a larger one is refused.</summary>
    public int MaxPendingLimit { get; set; } = 1024 * 1024;

    /// <summary>
    /// The bytes one subscription may hold on the silo: messages waiting for its client, the batch
    /// on its way to the client, and batches held back to restore order. Past it, messages are
    /// dropped and counted in <see cref="TopicInfo.Dropped"/>, as past MaxPending.
    /// </summary>
    public long MaxSubscriptionBytes { get; set; } = 64L * 1024 * 1024;
}

internal sealed class BrokerSiloOptionsValidator : IValidateOptions<BrokerSiloOptions>
{
    public ValidateOptionsResult Validate(string? name, BrokerSiloOptions options)
    {
        var failures = new List<string>();
        if (options.SubscriptionLease < BrokerSiloOptions.MinSubscriptionLease || options.SubscriptionLease > TimeSpan.FromDays(1))
        {
            failures.Add($"{nameof(BrokerSiloOptions)}.{nameof(BrokerSiloOptions.SubscriptionLease)} must be between {BrokerSiloOptions.MinSubscriptionLease.TotalMilliseconds} ms and 1 day; it is {options.SubscriptionLease}.");
        }

        if (options.MaxMessageBytes < 1)
        {
            failures.Add($"{nameof(BrokerSiloOptions)}.{nameof(BrokerSiloOptions.MaxMessageBytes)} must be at least 1; it is {options.MaxMessageBytes}.");
        }

        if (options.MaxPendingLimit < 1)
        {
            failures.Add($"{nameof(BrokerSiloOptions)}.{nameof(BrokerSiloOptions.MaxPendingLimit)} must be at least 1; it is {options.MaxPendingLimit}.");
        }

        // A subscription must be able to hold at least one message of the largest size.
        if (options.MaxSubscriptionBytes < options.MaxMessageBytes)
        {
            failures.Add($"{nameof(BrokerSiloOptions)}.{nameof(BrokerSiloOptions.MaxSubscriptionBytes)} must be at least {nameof(BrokerSiloOptions.MaxMessageBytes)} ({options.MaxMessageBytes}); it is {options.MaxSubscriptionBytes}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
