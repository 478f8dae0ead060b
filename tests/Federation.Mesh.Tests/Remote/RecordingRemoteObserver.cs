using Federation.Etcd.ClusterMesh;
using Federation.Mesh.Remote;

namespace Federation.Mesh.Tests.Remote;

/// <summary>Keeps what an <see cref="IRemoteClusterObserver"/> is told: the current state and every call in order.</summary>
internal sealed class RecordingRemoteObserver : IRemoteClusterObserver
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Cluster, string Key), (ClusterMeshKind Kind, byte[] Raw, object Decoded)> _state = [];
    private readonly HashSet<(string Cluster, ClusterMeshKind Kind)> _synced = [];
    private readonly List<Call> _calls = [];
    private readonly Dictionary<string, CiliumClusterConfig> _configs = [];

    public sealed record Call(string What, string Cluster, ClusterMeshKind? Kind, string? Key);

    public void OnUpsert(string cluster, ClusterMeshKind kind, string key, ReadOnlyMemory<byte> value, object decoded)
    {
        lock (_gate)
        {
            _state[(cluster, key)] = (kind, value.ToArray(), decoded);
            _calls.Add(new Call("upsert", cluster, kind, key));
        }
    }

    public void OnDelete(string cluster, ClusterMeshKind kind, string key)
    {
        lock (_gate)
        {
            Assert.True(_state.Remove((cluster, key)), $"delete of {key}, which was never upserted");
            _calls.Add(new Call("delete", cluster, kind, key));
        }
    }

    public void OnSynced(string cluster, ClusterMeshKind kind)
    {
        lock (_gate)
        {
            _synced.Add((cluster, kind));
            _calls.Add(new Call("synced", cluster, kind, null));
        }
    }

    public void OnClusterConfig(string cluster, CiliumClusterConfig config)
    {
        lock (_gate)
        {
            _configs[cluster] = config;
            _calls.Add(new Call("config", cluster, null, null));
        }
    }

    public void OnRemoved(string cluster)
    {
        lock (_gate)
        {
            _calls.Add(new Call("removed", cluster, null, null));
        }
    }

    /// <summary>The entries of <paramref name="cluster"/>: key → bytes.</summary>
    public Dictionary<string, byte[]> Entries(string cluster, ClusterMeshKind? kind = null)
    {
        lock (_gate)
        {
            return _state.Where(e => e.Key.Cluster == cluster && (kind is null || e.Value.Kind == kind))
                .ToDictionary(e => e.Key.Key, e => e.Value.Raw, StringComparer.Ordinal);
        }
    }

    public object? Decoded(string cluster, string key)
    {
        lock (_gate)
        {
            return _state.TryGetValue((cluster, key), out var entry) ? entry.Decoded : null;
        }
    }

    public bool IsSynced(string cluster, ClusterMeshKind kind)
    {
        lock (_gate)
        {
            return _synced.Contains((cluster, kind));
        }
    }

    public CiliumClusterConfig? Config(string cluster)
    {
        lock (_gate)
        {
            return _configs.GetValueOrDefault(cluster);
        }
    }

    public List<Call> Calls(string cluster)
    {
        lock (_gate)
        {
            return [.. _calls.Where(c => c.Cluster == cluster)];
        }
    }

    public int CallCount
    {
        get
        {
            lock (_gate)
            {
                return _calls.Count;
            }
        }
    }

    public List<Call> CallsSince(int index)
    {
        lock (_gate)
        {
            return [.. _calls.Skip(index)];
        }
    }
}
