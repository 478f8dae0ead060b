namespace Federation.Etcd.ClusterMesh;

/// <summary>The kinds of per-cluster state ClusterMesh shares through etcd (and kvstoremesh mirrors).</summary>
public enum ClusterMeshKind
{
    Nodes,
    Services,
    Identities,
    Ips,
}

/// <summary>Prefixes of each <see cref="ClusterMeshKind"/> in the apiserver's state layout and in kvstoremesh's cache layout.</summary>
public static class ClusterMeshKindExtensions
{
    /// <summary>All kinds, in the order Cilium lists them.</summary>
    public static IReadOnlyList<ClusterMeshKind> All { get; } =
        [ClusterMeshKind.Nodes, ClusterMeshKind.Services, ClusterMeshKind.Identities, ClusterMeshKind.Ips];

    /// <summary>The state prefix written by a cluster's own apiserver, e.g. <c>cilium/state/nodes/v1</c>.</summary>
    public static string StatePrefix(this ClusterMeshKind kind) => kind switch
    {
        ClusterMeshKind.Nodes => ClusterMeshKeys.NodesPrefix,
        ClusterMeshKind.Services => ClusterMeshKeys.ServicesPrefix,
        ClusterMeshKind.Identities => ClusterMeshKeys.IdentitiesPrefix,
        ClusterMeshKind.Ips => ClusterMeshKeys.IpPrefix,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown ClusterMesh kind"),
    };

    /// <summary>The cache prefix kvstoremesh writes remote copies under, e.g. <c>cilium/cache/nodes/v1</c>.</summary>
    public static string CachePrefix(this ClusterMeshKind kind) => kind switch
    {
        ClusterMeshKind.Nodes => ClusterMeshKeys.NodesCachePrefix,
        ClusterMeshKind.Services => ClusterMeshKeys.ServicesCachePrefix,
        ClusterMeshKind.Identities => ClusterMeshKeys.IdentitiesCachePrefix,
        ClusterMeshKind.Ips => ClusterMeshKeys.IpCachePrefix,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown ClusterMesh kind"),
    };

    /// <summary>The kind whose state or cache prefix starts <paramref name="key"/>, if any.</summary>
    public static bool TryGetKind(string key, out ClusterMeshKind kind)
    {
        foreach (var candidate in All)
        {
            if (HasPrefix(key, candidate.StatePrefix()) || HasPrefix(key, candidate.CachePrefix()))
            {
                kind = candidate;
                return true;
            }
        }

        kind = default;
        return false;
    }

    private static bool HasPrefix(string key, string prefix) =>
        key.Length > prefix.Length && key[prefix.Length] == '/' && key.StartsWith(prefix, StringComparison.Ordinal);
}
