using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.Hosting;

namespace Federation.ClusterMesh.ApiServer.Identities;

/// <summary>Registers the part that handles security identities and pod IP entries (cilium/state/identities/v1, cilium/state/ip/v1).</summary>
internal static class IdentityExportRegistration
{
    public static IServiceCollection AddIdentityExport(this IServiceCollection services, ApiServerOptions options)
    {
        _ = options;

        // Registered here with production defaults; a later registration (tests) replaces it.
        services.AddSingleton(new IdentityExportOptions());
        services.AddSingleton<IdentityExporter>();
        services.AddHostedService(sp => sp.GetRequiredService<IdentityExporter>());
        services.AddSingleton<IStatusContributor>(sp => sp.GetRequiredService<IdentityExporter>());
        return services;
    }
}
