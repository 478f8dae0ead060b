using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Federation.Mesh.Remote;

/// <summary>Registers the remote cluster connections in a service collection.</summary>
public static class RemoteClusterServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="RemoteClusterOptions"/> (validated at start, each problem naming its option) and one
    /// <see cref="RemoteClusterManager"/> feeding the registered <see cref="IRemoteClusterObserver"/>. The process
    /// starts and stops the manager (e.g. from a BackgroundService); the container disposes it.
    /// </summary>
    public static IServiceCollection AddRemoteClusters(this IServiceCollection services, Action<RemoteClusterOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<RemoteClusterOptions>().Configure(configure).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RemoteClusterOptions>, RemoteClusterOptionsValidator>();
        services.AddSingleton(provider => new RemoteClusterManager(
            provider.GetRequiredService<IOptions<RemoteClusterOptions>>().Value,
            provider.GetRequiredService<IRemoteClusterObserver>(),
            provider.GetService<ILoggerFactory>(),
            provider.GetService<TimeProvider>()));
        return services;
    }
}

/// <summary>The <see cref="RemoteClusterManager"/>'s options check (config directory included) for the options pipeline.</summary>
internal sealed class RemoteClusterOptionsValidator : IValidateOptions<RemoteClusterOptions>
{
    public ValidateOptionsResult Validate(string? name, RemoteClusterOptions options)
    {
        var errors = RemoteClusterManager.Validate(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
