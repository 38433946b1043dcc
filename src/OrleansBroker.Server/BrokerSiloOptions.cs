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
}

internal sealed class BrokerSiloOptionsValidator : IValidateOptions<BrokerSiloOptions>
{
    public ValidateOptionsResult Validate(string? name, BrokerSiloOptions options) =>
        options.SubscriptionLease >= TimeSpan.FromMilliseconds(100) && options.SubscriptionLease <= TimeSpan.FromDays(1)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"{nameof(BrokerSiloOptions)}.{nameof(BrokerSiloOptions.SubscriptionLease)} must be between 100 ms and 1 day; it is {options.SubscriptionLease}.");
}
