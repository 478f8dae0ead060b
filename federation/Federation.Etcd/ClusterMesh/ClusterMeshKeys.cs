using System.Globalization;

namespace Federation.Etcd.ClusterMesh;

/// <summary>
/// The ClusterMesh etcd key layout (Cilium compatible): the apiserver's own state under
/// <c>cilium/state/...</c>, kvstoremesh's copies of remote clusters under <c>cilium/cache/...</c>.
/// Parsers accept both layouts and return false, never throw, on anything else.
/// </summary>
public static class ClusterMeshKeys
{
    /// <summary>Rewritten every minute by the apiserver; value is an RFC 3339 time.</summary>
    public const string Heartbeat = "cilium/.heartbeat";

    public const string ClusterConfigPrefix = "cilium/cluster-config";
    public const string SyncedPrefix = "cilium/synced";

    public const string NodesPrefix = "cilium/state/nodes/v1";
    public const string ServicesPrefix = "cilium/state/services/v1";
    public const string IdentitiesPrefix = "cilium/state/identities/v1";
    public const string IpPrefix = "cilium/state/ip/v1";

    public const string CacheRoot = "cilium/cache";
    public const string NodesCachePrefix = "cilium/cache/nodes/v1";
    public const string ServicesCachePrefix = "cilium/cache/services/v1";
    public const string IdentitiesCachePrefix = "cilium/cache/identities/v1";
    public const string IpCachePrefix = "cilium/cache/ip/v1";

    /// <summary>The only address space the apiserver writes ip entries in.</summary>
    public const string IpAddressSpace = "default";

    private const string IdentityIdSegment = "id";

    public static string ClusterConfig(string cluster) => $"{ClusterConfigPrefix}/{cluster}";

    /// <summary><c>cilium/synced/&lt;cluster&gt;/&lt;prefixRoot&gt;</c>, e.g. prefixRoot <c>cilium/state/nodes/v1</c>.</summary>
    public static string SyncedCanary(string cluster, string prefixRoot) => $"{SyncedPrefix}/{cluster}/{prefixRoot}";

    /// <summary>The canary a cluster's apiserver writes once the initial write of <paramref name="kind"/> is done.</summary>
    public static string StateSyncedCanary(ClusterMeshKind kind, string cluster) => SyncedCanary(cluster, kind.StatePrefix());

    /// <summary>The canary kvstoremesh writes once its copy of <paramref name="cluster"/>'s <paramref name="kind"/> is complete.</summary>
    public static string CacheSyncedCanary(ClusterMeshKind kind, string cluster) => SyncedCanary(cluster, kind.CachePrefix());

    public static string Node(string cluster, string node) => $"{NodesPrefix}/{cluster}/{node}";

    public static string Service(string cluster, string @namespace, string name) => $"{ServicesPrefix}/{cluster}/{@namespace}/{name}";

    public static string Identity(uint id) => $"{IdentitiesPrefix}/{IdentityIdSegment}/{id.ToString(CultureInfo.InvariantCulture)}";

    /// <summary><c>cilium/state/ip/v1/default/&lt;ip&gt;</c>; <paramref name="ipText"/> is the IP, or <c>ip/len</c> for an entry with a mask.</summary>
    public static string Ip(string ipText) => $"{IpPrefix}/{IpAddressSpace}/{ipText}";

    /// <summary>The key of an ip entry that carries a mask: <c>cilium/state/ip/v1/default/&lt;ip&gt;/&lt;len&gt;</c>.</summary>
    public static string Ip(string ip, int prefixLength) => Ip($"{ip}/{prefixLength.ToString(CultureInfo.InvariantCulture)}");

    public static string CachedNode(string cluster, string node) => $"{NodesCachePrefix}/{cluster}/{node}";

    public static string CachedService(string cluster, string @namespace, string name) => $"{ServicesCachePrefix}/{cluster}/{@namespace}/{name}";

    public static string CachedIdentity(string cluster, uint id) =>
        $"{IdentitiesCachePrefix}/{cluster}/{IdentityIdSegment}/{id.ToString(CultureInfo.InvariantCulture)}";

    public static string CachedIp(string cluster, string ipText) => $"{IpCachePrefix}/{cluster}/{ipText}";

    /// <summary>
    /// The prefix (ending in '/') under which kvstoremesh keeps its copy of <paramref name="cluster"/>'s
    /// <paramref name="kind"/> entries, and which node agents watch: e.g. <c>cilium/cache/nodes/v1/foo/</c>,
    /// <c>cilium/cache/identities/v1/foo/id/</c> (identity <c>value/</c> keys are never copied).
    /// </summary>
    public static string CachePrefixFor(ClusterMeshKind kind, string cluster) => kind == ClusterMeshKind.Identities
        ? $"{IdentitiesCachePrefix}/{cluster}/{IdentityIdSegment}/"
        : $"{kind.CachePrefix()}/{cluster}/";

    /// <summary>
    /// The prefix (ending in '/') kvstoremesh watches in the remote cluster's etcd. A remote in the plain
    /// state layout keeps nodes and services under its name, identities under <c>id/</c> and ip entries
    /// under <c>default/</c>; a remote that is itself behind kvstoremesh (<paramref name="remoteCached"/>)
    /// exposes the cache layout, which maps one to one.
    /// </summary>
    public static string RemoteWatchPrefix(ClusterMeshKind kind, string remoteCluster, bool remoteCached)
    {
        if (remoteCached)
        {
            return CachePrefixFor(kind, remoteCluster);
        }

        return kind switch
        {
            ClusterMeshKind.Identities => $"{IdentitiesPrefix}/{IdentityIdSegment}/",
            ClusterMeshKind.Ips => $"{IpPrefix}/{IpAddressSpace}/",
            _ => $"{kind.StatePrefix()}/{remoteCluster}/",
        };
    }

    /// <summary>
    /// Maps a key read from <paramref name="remoteCluster"/>'s etcd (state or cache layout) to the local
    /// cache key kvstoremesh writes the same value under. False for keys kvstoremesh does not copy
    /// (identity <c>value/</c> keys, other clusters' entries, other prefixes).
    /// </summary>
    public static bool TryMapToCacheKey(ClusterMeshKind kind, string remoteCluster, string remoteKey, out string cacheKey)
    {
        var target = CachePrefixFor(kind, remoteCluster);
        foreach (var cached in (ReadOnlySpan<bool>)[false, true])
        {
            var source = RemoteWatchPrefix(kind, remoteCluster, cached);
            if (remoteKey.Length > source.Length && remoteKey.StartsWith(source, StringComparison.Ordinal))
            {
                cacheKey = string.Concat(target, remoteKey.AsSpan(source.Length));
                return true;
            }
        }

        cacheKey = string.Empty;
        return false;
    }

    /// <summary>As <see cref="TryMapToCacheKey(ClusterMeshKind, string, string, out string)"/>, finding the kind from the key.</summary>
    public static bool TryMapToCacheKey(string remoteCluster, string remoteKey, out ClusterMeshKind kind, out string cacheKey)
    {
        foreach (var candidate in ClusterMeshKindExtensions.All)
        {
            if (TryMapToCacheKey(candidate, remoteCluster, remoteKey, out cacheKey))
            {
                kind = candidate;
                return true;
            }
        }

        kind = default;
        cacheKey = string.Empty;
        return false;
    }

    /// <summary>Parses <c>cilium/cluster-config/&lt;cluster&gt;</c>.</summary>
    public static bool TryParseClusterConfigKey(string key, out string cluster)
    {
        cluster = string.Empty;
        if (!TryStripPrefix(key, ClusterConfigPrefix, out var rest) || !TrySplit(rest, 1, out var parts))
        {
            return false;
        }

        cluster = parts[0];
        return true;
    }

    /// <summary>Parses a node key in the state (<c>cilium/state/nodes/v1/c/n</c>) or cache layout.</summary>
    public static bool TryParseNodeKey(string key, out string cluster, out string node)
    {
        cluster = node = string.Empty;
        if (!TryStripEither(key, NodesPrefix, NodesCachePrefix, out var rest) || !TrySplit(rest, 2, out var parts))
        {
            return false;
        }

        (cluster, node) = (parts[0], parts[1]);
        return true;
    }

    /// <summary>Parses a service key in the state (<c>cilium/state/services/v1/c/ns/name</c>) or cache layout.</summary>
    public static bool TryParseServiceKey(string key, out string cluster, out string @namespace, out string name)
    {
        cluster = @namespace = name = string.Empty;
        if (!TryStripEither(key, ServicesPrefix, ServicesCachePrefix, out var rest) || !TrySplit(rest, 3, out var parts))
        {
            return false;
        }

        (cluster, @namespace, name) = (parts[0], parts[1], parts[2]);
        return true;
    }

    /// <summary>Parses an identity key, <c>cilium/state/identities/v1/id/&lt;id&gt;</c> or <c>cilium/cache/identities/v1/&lt;c&gt;/id/&lt;id&gt;</c>.</summary>
    public static bool TryParseIdentityKey(string key, out uint id) => TryParseIdentityKey(key, out _, out id);

    /// <summary>As <see cref="TryParseIdentityKey(string, out uint)"/>; <paramref name="cluster"/> is null for the state layout.</summary>
    public static bool TryParseIdentityKey(string key, out string? cluster, out uint id)
    {
        cluster = null;
        id = 0;
        string[] parts;
        if (TryStripPrefix(key, IdentitiesPrefix, out var rest))
        {
            if (!TrySplit(rest, 2, out parts) || parts[0] != IdentityIdSegment)
            {
                return false;
            }

            return TryParseDecimal(parts[1], out id);
        }

        if (!TryStripPrefix(key, IdentitiesCachePrefix, out rest) || !TrySplit(rest, 3, out parts) || parts[1] != IdentityIdSegment)
        {
            return false;
        }

        cluster = parts[0];
        return TryParseDecimal(parts[2], out id);
    }

    /// <summary>
    /// Parses an ip entry key: <c>cilium/state/ip/v1/default/&lt;ip&gt;[/&lt;len&gt;]</c> or
    /// <c>cilium/cache/ip/v1/&lt;c&gt;/&lt;ip&gt;[/&lt;len&gt;]</c>. <paramref name="ip"/> is the address text as
    /// written; <paramref name="prefixLength"/> is set for the <c>ip/len</c> form.
    /// </summary>
    public static bool TryParseIpKey(string key, out string ip, out int? prefixLength) => TryParseIpKey(key, out _, out ip, out prefixLength);

    /// <summary>As <see cref="TryParseIpKey(string, out string, out int?)"/>; <paramref name="cluster"/> is null for the state layout.</summary>
    public static bool TryParseIpKey(string key, out string? cluster, out string ip, out int? prefixLength)
    {
        cluster = null;
        ip = string.Empty;
        prefixLength = null;
        string rest;
        if (TryStripPrefix(key, IpPrefix, out var afterState))
        {
            var slash = afterState.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0 || afterState[..slash] != IpAddressSpace)
            {
                return false;
            }

            rest = afterState[(slash + 1)..];
        }
        else if (TryStripPrefix(key, IpCachePrefix, out var afterCache))
        {
            var slash = afterCache.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0)
            {
                return false;
            }

            cluster = afterCache[..slash];
            rest = afterCache[(slash + 1)..];
        }
        else
        {
            return false;
        }

        var lengthAt = rest.IndexOf('/', StringComparison.Ordinal);
        if (lengthAt < 0)
        {
            ip = rest;
            return ip.Length > 0;
        }

        var lengthText = rest[(lengthAt + 1)..];
        if (lengthAt == 0 || !TryParseDecimal(lengthText, out var length) || length > 128)
        {
            return false;
        }

        ip = rest[..lengthAt];
        prefixLength = (int)length;
        return true;
    }

    private static bool TryStripEither(string key, string statePrefix, string cachePrefix, out string rest) =>
        TryStripPrefix(key, statePrefix, out rest) || TryStripPrefix(key, cachePrefix, out rest);

    private static bool TryStripPrefix(string key, string prefix, out string rest)
    {
        if (key.Length > prefix.Length + 1 && key[prefix.Length] == '/' && key.StartsWith(prefix, StringComparison.Ordinal))
        {
            rest = key[(prefix.Length + 1)..];
            return true;
        }

        rest = string.Empty;
        return false;
    }

    private static bool TrySplit(string rest, int count, out string[] parts)
    {
        parts = rest.Split('/');
        if (parts.Length != count)
        {
            return false;
        }

        foreach (var part in parts)
        {
            if (part.Length == 0)
            {
                return false;
            }
        }

        return true;
    }

    // Canonical unsigned decimal only: no sign, no leading zeros, so one number has exactly one key.
    private static bool TryParseDecimal(string text, out uint value)
    {
        value = 0;
        if (text.Length == 0 || (text.Length > 1 && text[0] == '0'))
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
