using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Federation.ClusterMesh.ApiServer.KvStoreMesh;

/// <summary>Registers kvstoremesh (active with <c>--clustermesh-config</c>).</summary>
internal static class KvStoreMeshRegistration
{
    public static IServiceCollection AddKvStoreMesh(this IServiceCollection services, ApiServerOptions options)
    {
        _ = options;
        services.TryAddSingleton(new KvStoreMeshTuning());
        services.AddSingleton<KvStoreMesh>();
        services.AddHostedService(sp => sp.GetRequiredService<KvStoreMesh>());
        services.AddSingleton<IStatusContributor>(sp => sp.GetRequiredService<KvStoreMesh>());
        return services;
    }
}
