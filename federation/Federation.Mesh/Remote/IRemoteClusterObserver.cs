using Federation.Etcd.ClusterMesh;

namespace Federation.Mesh.Remote;

/// <summary>
/// Receives what remote clusters hold. Calls for one cluster come one at a time, in order; calls for
/// different clusters may overlap. Entries reach the observer only after the remote's synced canary
/// for that kind exists; every removal (watch delete, re-list sweep, drain, stale revocation) is one
/// <see cref="OnDelete"/> per key. Implementations must not block and must not throw.
/// </summary>
public interface IRemoteClusterObserver
{
    /// <summary>A validated entry, with the exact bytes read (kvstoremesh copies them) and the decoded value
    /// (<see cref="Node"/>, <see cref="ClusterService"/>, <see cref="IdentityEntry"/> or <see cref="IPIdentityPair"/>).</summary>
    void OnUpsert(string cluster, ClusterMeshKind kind, string key, ReadOnlyMemory<byte> value, object decoded);

    /// <summary>The entry under <paramref name="key"/> (a key given to <see cref="OnUpsert"/> before) is gone.</summary>
    void OnDelete(string cluster, ClusterMeshKind kind, string key);

    /// <summary>Everything <paramref name="cluster"/> held of <paramref name="kind"/> has been delivered.</summary>
    void OnSynced(string cluster, ClusterMeshKind kind);

    /// <summary>The remote's validated <c>cilium/cluster-config</c>, before any of its entries.</summary>
    void OnClusterConfig(string cluster, CiliumClusterConfig config);

    /// <summary>
    /// <paramref name="cluster"/> was removed from the configuration. Called before the deletes of its entries,
    /// so a consumer can withdraw the cluster as a whole first (kvstoremesh deletes the cluster's config at once
    /// and its cached entries only after a grace period).
    /// </summary>
    void OnRemoved(string cluster);
}

/// <summary>
/// Where remote clusters come from: <see cref="RemoteClusterManager"/> connects to each remote's etcd (kvstoremesh);
/// a node agent reads kvstoremesh's copies from its own etcd (<see cref="CachedRemoteClusterSource"/>). Both feed an <see cref="IRemoteClusterObserver"/>.
/// </summary>
public interface IRemoteClusterSource : IAsyncDisposable
{
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Stops following the remotes, keeping what the observer was told (no deletes).</summary>
    Task StopAsync(CancellationToken cancellationToken);

    RemoteClustersStatus GetStatus();
}
