using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Federation.Kubernetes;

/// <summary>Registers the Kubernetes client in a service collection.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers one <see cref="IKubernetesClient"/> (a singleton, disposed with the container) made from the configuration
    /// <paramref name="configure"/> returns, with the container's logger factory and <see cref="TimeProvider"/> when registered.
    /// </summary>
    public static IServiceCollection AddKubernetesClient(this IServiceCollection services, Func<IServiceProvider, KubernetesClientConfiguration> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddSingleton(provider => KubernetesClient.Create(
            configure(provider),
            provider.GetService<ILoggerFactory>(),
            provider.GetService<TimeProvider>()));
        services.AddSingleton<IKubernetesClient>(provider => provider.GetRequiredService<KubernetesClient>());
        return services;
    }
}
