using Federation.Mesh.Remote;
using Federation.NodeAgent.Hosting;

namespace Federation.NodeAgent.Sync;

/// <summary>Creates the agent's <see cref="IRemoteClusterSource"/>; registered in the container so another source can be plugged in.</summary>
internal delegate IRemoteClusterSource RemoteClusterSourceFactory(IServiceProvider services);

/// <summary>The remote sources <c>--remote-source</c> selects.</summary>
internal static class RemoteSources
{
    /// <summary>The factory for <see cref="AgentOptions.RemoteSource"/>.</summary>
    public static RemoteClusterSourceFactory For(AgentOptions options) => options.RemoteSource switch
    {
        RemoteSourceKind.Direct => Direct,
        // Options validation refuses "cache" before anything is created; this is the place it will be wired.
        _ => _ => throw new NotSupportedException("--remote-source=cache arrives with CachedRemoteClusterSource"),
    };

    /// <summary>The connection settings of the direct source, from the agent's flags.</summary>
    public static RemoteClusterOptions DirectOptions(AgentOptions options) => new()
    {
        LocalClusterName = options.ClusterName,
        LocalClusterId = options.ClusterId,
        MaxConnectedClusters = options.MaxConnectedClusters,
        ConfigDirectory = options.ClusterMeshConfig,
    };

    private static IRemoteClusterSource Direct(IServiceProvider services) => new RemoteClusterManager(
        DirectOptions(services.GetRequiredService<AgentOptions>()),
        services.GetRequiredService<IRemoteClusterObserver>(),
        services.GetService<ILoggerFactory>(),
        services.GetService<TimeProvider>());
}
