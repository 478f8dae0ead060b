using Federation.Etcd;
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
        _ => Cache,
    };

    /// <summary>The connection settings of the direct source, from the agent's flags.</summary>
    public static RemoteClusterOptions DirectOptions(AgentOptions options) => new()
    {
        LocalClusterName = options.ClusterName,
        LocalClusterId = options.ClusterId,
        MaxConnectedClusters = options.MaxConnectedClusters,
        ConfigDirectory = options.ClusterMeshConfig,
    };

    /// <summary>The local etcd of the agent's cluster, where kvstoremesh keeps its copies of the remote clusters.</summary>
    public static IEtcdClient LocalEtcd(AgentOptions options, ILoggerFactory? loggerFactory) => EtcdClient.Create(
        new EtcdClientOptions
        {
            Endpoints = [.. options.EtcdEndpoints],
            CaFile = options.EtcdCaFile,
            CertFile = options.EtcdCertFile,
            KeyFile = options.EtcdKeyFile,
        },
        loggerFactory: loggerFactory);

    private static IRemoteClusterSource Cache(IServiceProvider services) => new CachedRemoteClusterSource(
        services.GetRequiredService<IEtcdClient>(),
        new RemoteClusterOptions
        {
            LocalClusterName = services.GetRequiredService<AgentOptions>().ClusterName,
            LocalClusterId = services.GetRequiredService<AgentOptions>().ClusterId,
            MaxConnectedClusters = services.GetRequiredService<AgentOptions>().MaxConnectedClusters,
        },
        services.GetRequiredService<IRemoteClusterObserver>(),
        services.GetService<ILoggerFactory>(),
        services.GetService<TimeProvider>());

    private static IRemoteClusterSource Direct(IServiceProvider services) => new RemoteClusterManager(
        DirectOptions(services.GetRequiredService<AgentOptions>()),
        services.GetRequiredService<IRemoteClusterObserver>(),
        services.GetService<ILoggerFactory>(),
        services.GetService<TimeProvider>());
}
