using Federation.Etcd;
using Microsoft.Extensions.Logging;

namespace Federation.Mesh.Remote;

/// <summary>The etcd client of one connection to a remote, and whether the connection owns (disposes) it.</summary>
internal sealed record RemoteClusterClient(IEtcdClient Client, bool Owned);

/// <summary>Where a <see cref="RemoteCluster"/> gets the etcd client of each connection.</summary>
internal interface IRemoteClusterClientProvider
{
    /// <summary>The client of one connection to <paramref name="config"/>'s cluster; called once per connection attempt.</summary>
    RemoteClusterClient Connect(RemoteClusterConfig config);
}

/// <summary>kvstoremesh: a client of its own per connection to each remote's etcd, built from the remote's config file.</summary>
internal sealed class OwnedRemoteClusterClientProvider(RemoteClusterOptions options, TimeProvider time, ILoggerFactory loggerFactory)
    : IRemoteClusterClientProvider
{
    public RemoteClusterClient Connect(RemoteClusterConfig config)
        => new(EtcdClient.Create(config.ToClientOptions(options), time, loggerFactory), Owned: true);
}

/// <summary>Node agents: every cached remote is read through the one client of the local etcd, which its owner disposes.</summary>
internal sealed class SharedRemoteClusterClientProvider(IEtcdClient client) : IRemoteClusterClientProvider
{
    public RemoteClusterClient Connect(RemoteClusterConfig config) => new(client, Owned: false);
}
