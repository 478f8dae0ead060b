using Federation.ClusterMesh.ApiServer.Hosting;

namespace Federation.ClusterMesh.ApiServer.Services;

/// <summary>Registers the part that handles global Services and their backends (cilium/state/services/v1).</summary>
internal static class ServiceExportRegistration
{
    public static IServiceCollection AddServiceExport(this IServiceCollection services, ApiServerOptions options)
    {
        _ = options;
        return services;
    }
}
