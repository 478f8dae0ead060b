using Federation.Etcd.ClusterMesh;
using Federation.Mesh.Remote;

namespace Federation.NodeAgent.Sync;

/// <summary>
/// The one observer a remote source takes, handing every call to each of the agent's consumers in order
/// (services for the load balancer, nodes for the WireGuard peers). Each consumer keeps the observer contract
/// itself (never throws, never blocks).
/// </summary>
internal sealed class RemoteObservers(IReadOnlyList<IRemoteClusterObserver> observers) : IRemoteClusterObserver
{
    public IReadOnlyList<IRemoteClusterObserver> Observers { get; } = observers;

    public void OnUpsert(string cluster, ClusterMeshKind kind, string key, ReadOnlyMemory<byte> value, object decoded)
    {
        foreach (var observer in Observers)
        {
            observer.OnUpsert(cluster, kind, key, value, decoded);
        }
    }

    public void OnDelete(string cluster, ClusterMeshKind kind, string key)
    {
        foreach (var observer in Observers)
        {
            observer.OnDelete(cluster, kind, key);
        }
    }

    public void OnSynced(string cluster, ClusterMeshKind kind)
    {
        foreach (var observer in Observers)
        {
            observer.OnSynced(cluster, kind);
        }
    }

    public void OnClusterConfig(string cluster, CiliumClusterConfig config)
    {
        foreach (var observer in Observers)
        {
            observer.OnClusterConfig(cluster, config);
        }
    }

    public void OnRemoved(string cluster)
    {
        foreach (var observer in Observers)
        {
            observer.OnRemoved(cluster);
        }
    }
}
