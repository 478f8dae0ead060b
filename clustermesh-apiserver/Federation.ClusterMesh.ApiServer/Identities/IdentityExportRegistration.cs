using Federation.ClusterMesh.ApiServer.Hosting;

namespace Federation.ClusterMesh.ApiServer.Identities;

/// <summary>Registers the part that handles security identities and pod IP entries (cilium/state/identities/v1, cilium/state/ip/v1).</summary>
internal static class IdentityExportRegistration
{
    public static IServiceCollection AddIdentityExport(this IServiceCollection services, ApiServerOptions options)
    {
        _ = options;
        return services;
    }
}
