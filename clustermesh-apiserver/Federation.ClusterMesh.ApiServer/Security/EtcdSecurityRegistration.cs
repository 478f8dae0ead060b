using Federation.ClusterMesh.ApiServer.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Federation.ClusterMesh.ApiServer.Security;

/// <summary>Registers the part that handles the etcd users and roles of this cluster, its peers and its node agents.</summary>
internal static class EtcdSecurityRegistration
{
    /// <summary>
    /// Adds <see cref="EtcdAccessBootstrap"/> as a hosted service; registered before the exporters, it completes
    /// its start (users, roles, auth enabled) before any of them writes.
    /// </summary>
    public static IServiceCollection AddEtcdSecurity(this IServiceCollection services, ApiServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.TryAddSingleton(new EtcdAccessBootstrapOptions());
        services.AddHostedService<EtcdAccessBootstrap>();
        return services;
    }
}
