using Federation.Etcd.ClusterMesh;
using Federation.Mesh.Remote;
using Federation.Mesh.Services;

namespace Federation.NodeAgent.Sync;

/// <summary>Feeds the remote clusters' services into the <see cref="GlobalServiceCache"/> (other kinds are not used by the load balancer).</summary>
internal sealed partial class RemoteServiceObserver(GlobalServiceCache cache, ILogger<RemoteServiceObserver> logger) : IRemoteClusterObserver
{
    public void OnUpsert(string cluster, ClusterMeshKind kind, string key, ReadOnlyMemory<byte> value, object decoded)
    {
        if (kind != ClusterMeshKind.Services)
        {
            return;
        }

        try
        {
            if (decoded is ClusterService service)
            {
                cache.UpsertRemote(cluster, service);
            }
        }
        catch (Exception e)
        {
            // The observer contract: never throw into the remote connection.
            Log.Failed(logger, cluster, key, e);
        }
    }

    public void OnDelete(string cluster, ClusterMeshKind kind, string key)
    {
        if (kind != ClusterMeshKind.Services)
        {
            return;
        }

        try
        {
            if (ClusterMeshKeys.TryParseServiceKey(key, out _, out var @namespace, out var name))
            {
                cache.DeleteRemote(cluster, @namespace, name);
            }
            else
            {
                Log.UnparsableKey(logger, cluster, key);
            }
        }
        catch (Exception e)
        {
            Log.Failed(logger, cluster, key, e);
        }
    }

    public void OnSynced(string cluster, ClusterMeshKind kind)
    {
        if (kind == ClusterMeshKind.Services)
        {
            Log.Synced(logger, cluster);
        }
    }

    public void OnClusterConfig(string cluster, CiliumClusterConfig config)
    {
    }

    public void OnRemoved(string cluster)
    {
        try
        {
            cache.RemoveCluster(cluster);
        }
        catch (Exception e)
        {
            Log.Failed(logger, cluster, "(cluster removed)", e);
        }
    }
}
