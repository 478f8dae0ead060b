using System.Runtime.Versioning;
using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Federation.ClusterMesh.ApiServer.KvStoreMesh;

/// <summary>Registers kvstoremesh (active with <c>--clustermesh-config</c>; filled from <c>--clustermesh-config-secret</c> when given).</summary>
internal static class KvStoreMeshRegistration
{
    public static IServiceCollection AddKvStoreMesh(this IServiceCollection services, ApiServerOptions options)
    {
        services.TryAddSingleton(new KvStoreMeshTuning());
        if (options.ClusterMeshConfigSecret is not null)
        {
            if (OperatingSystem.IsWindows())
            {
                throw new PlatformNotSupportedException("--clustermesh-config-secret writes files with Unix modes (0600)");
            }

            // Before kvstoremesh: the directory it reads is created (and, once listed, filled) from the Secret.
            AddConfigSecretSync(services);
        }

        services.AddSingleton<KvStoreMesh>();
        services.AddHostedService(sp => sp.GetRequiredService<KvStoreMesh>());
        services.AddSingleton<IStatusContributor>(sp => sp.GetRequiredService<KvStoreMesh>());
        return services;
    }

    [UnsupportedOSPlatform("windows")]
    private static void AddConfigSecretSync(IServiceCollection services)
    {
        services.AddSingleton<ClusterMeshConfigSecretSync>();
        services.AddHostedService(Get);
        services.AddSingleton<IStatusContributor>(Get);

        [UnsupportedOSPlatform("windows")]
        static ClusterMeshConfigSecretSync Get(IServiceProvider sp) => sp.GetRequiredService<ClusterMeshConfigSecretSync>();
    }
}
