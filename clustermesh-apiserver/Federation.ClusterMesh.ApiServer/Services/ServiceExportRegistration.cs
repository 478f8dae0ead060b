using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.Hosting;

namespace Federation.ClusterMesh.ApiServer.Services;

/// <summary>Registers the part that handles global Services and their backends (cilium/state/services/v1).</summary>
internal static class ServiceExportRegistration
{
    public static IServiceCollection AddServiceExport(this IServiceCollection services, ApiServerOptions options)
    {
        _ = options;
        services.AddSingleton<ServiceExporter>();
        services.AddHostedService(sp => sp.GetRequiredService<ServiceExporter>());
        services.AddSingleton<IStatusContributor>(sp => sp.GetRequiredService<ServiceExporter>());
        return services;
    }
}
