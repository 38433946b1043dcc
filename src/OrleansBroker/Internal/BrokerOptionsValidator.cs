using Microsoft.Extensions.Options;

namespace OrleansBroker.Internal;

/// <summary>
/// Checks options bound through DI when the host starts, by the same rules the brokers' constructors
/// apply, so a bad configuration value fails the start-up naming the setting rather than the first use.
/// </summary>
internal sealed class BrokerOptionsValidator : IValidateOptions<BrokerOptions>
{
    public ValidateOptionsResult Validate(string? name, BrokerOptions options) =>
        Validation.BrokerOptionsError(options) is { } error ? ValidateOptionsResult.Fail(error.Message) : ValidateOptionsResult.Success;
}
