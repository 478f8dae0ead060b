using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Federation.ClusterMesh.ApiServer.HighAvailability;

/// <summary>Registers the part that handles leader election between replicas (replaces the sole-leader default when --replica-id is set).</summary>
internal static class HighAvailabilityRegistration
{
    public static IServiceCollection AddHighAvailability(this IServiceCollection services, ApiServerOptions options)
    {
        if (string.IsNullOrEmpty(options.ReplicaId))
        {
            return services;
        }

        services.TryAddSingleton(new LeaderElectionOptions { LeaseTtl = options.LeaderElectionTtl });
        services.AddSingleton<EtcdLeaderElection>();
        services.Replace(ServiceDescriptor.Singleton<ILeadership>(sp => sp.GetRequiredService<EtcdLeaderElection>()));
        services.AddHostedService(sp => sp.GetRequiredService<EtcdLeaderElection>());
        services.AddSingleton<IStatusContributor>(sp => sp.GetRequiredService<EtcdLeaderElection>());
        return services;
    }
}
