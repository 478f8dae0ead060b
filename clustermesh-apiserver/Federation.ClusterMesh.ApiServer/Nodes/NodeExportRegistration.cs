using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.Hosting;

namespace Federation.ClusterMesh.ApiServer.Nodes;

/// <summary>Registers the part that handles Nodes (cilium/state/nodes/v1).</summary>
internal static class NodeExportRegistration
{
    public static IServiceCollection AddNodeExport(this IServiceCollection services, ApiServerOptions options)
    {
        _ = options;
        services.AddSingleton<NodeExporter>();
        services.AddHostedService(sp => sp.GetRequiredService<NodeExporter>());
        services.AddSingleton<IStatusContributor>(sp => sp.GetRequiredService<NodeExporter>());
        return services;
    }
}
