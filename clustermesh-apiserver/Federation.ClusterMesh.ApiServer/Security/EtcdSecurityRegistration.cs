using Federation.ClusterMesh.ApiServer.Hosting;

namespace Federation.ClusterMesh.ApiServer.Security;

/// <summary>Registers the part that handles the etcd users and roles of this cluster, its peers and its node agents.</summary>
internal static class EtcdSecurityRegistration
{
    public static IServiceCollection AddEtcdSecurity(this IServiceCollection services, ApiServerOptions options)
    {
        _ = options;
        return services;
    }
}
