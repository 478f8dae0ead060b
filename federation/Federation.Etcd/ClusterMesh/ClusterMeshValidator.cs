using System.Globalization;

namespace Federation.Etcd.ClusterMesh;

/// <summary>The remote cluster an entry was read from: its name, its ID and the mesh size (255 or 511).</summary>
public sealed record RemoteClusterInfo(string Name, uint Id, uint MaxConnectedClusters = ClusterIdentity.DefaultMaxConnectedClusters);

/// <summary>An identity entry: the numeric identity from the key and the labels from the value.</summary>
public sealed record IdentityEntry(uint Id, IdentityLabels Labels);

/// <summary>The result of validating one entry: ok with the decoded value, or rejected with a reason.</summary>
public sealed record EntryValidation<T>(bool Ok, string? Reason, T? Value)
    where T : class
{
    internal static EntryValidation<T> Accept(T value) => new(true, null, value);

    internal static EntryValidation<T> Reject(string reason) => new(false, reason, null);
}

/// <summary>
/// Checks an entry read from a remote cluster before anything uses it (DESIGN §2): the cluster named
/// by the key, by the value and by the connection agree, the cluster ID is the remote's, identities
/// fall in the remote's range. Keys may be in the state or the cache layout. Never throws: a bad
/// entry is a rejection with a reason, to be logged and counted.
/// </summary>
public static class ClusterMeshValidator
{
    public static EntryValidation<object> Validate(ClusterMeshKind kind, string key, ReadOnlySpan<byte> value, RemoteClusterInfo remote) => kind switch
    {
        ClusterMeshKind.Nodes => Widen(ValidateNode(key, value, remote)),
        ClusterMeshKind.Services => Widen(ValidateService(key, value, remote)),
        ClusterMeshKind.Identities => Widen(ValidateIdentity(key, value, remote)),
        ClusterMeshKind.Ips => Widen(ValidateIp(key, value, remote)),
        _ => EntryValidation<object>.Reject($"unknown kind {kind}"),
    };

    public static EntryValidation<Node> ValidateNode(string key, ReadOnlySpan<byte> value, RemoteClusterInfo remote)
    {
        if (CheckRemote(remote) is { } remoteError)
        {
            return EntryValidation<Node>.Reject(remoteError);
        }

        if (!ClusterMeshKeys.TryParseNodeKey(key, out var keyCluster, out var keyName))
        {
            return EntryValidation<Node>.Reject($"key \"{key}\" is not a node key ({ClusterMeshKeys.NodesPrefix}/<cluster>/<node>)");
        }

        if (CheckKeyCluster(key, keyCluster, remote) is { } clusterError)
        {
            return EntryValidation<Node>.Reject(clusterError);
        }

        if (!ClusterMeshJson.TryDeserialize(value, out Node? node, out var error))
        {
            return EntryValidation<Node>.Reject($"node {key}: {error}");
        }

        var mismatch = Mismatch(key, "cluster", node.Cluster, keyCluster)
            ?? Mismatch(key, "name", node.Name, keyName)
            ?? ClusterIdMismatch(key, node.ClusterId, remote);
        return mismatch is null ? EntryValidation<Node>.Accept(node) : EntryValidation<Node>.Reject(mismatch);
    }

    public static EntryValidation<ClusterService> ValidateService(string key, ReadOnlySpan<byte> value, RemoteClusterInfo remote)
    {
        if (CheckRemote(remote) is { } remoteError)
        {
            return EntryValidation<ClusterService>.Reject(remoteError);
        }

        if (!ClusterMeshKeys.TryParseServiceKey(key, out var keyCluster, out var keyNamespace, out var keyName))
        {
            return EntryValidation<ClusterService>.Reject(
                $"key \"{key}\" is not a service key ({ClusterMeshKeys.ServicesPrefix}/<cluster>/<namespace>/<name>)");
        }

        if (CheckKeyCluster(key, keyCluster, remote) is { } clusterError)
        {
            return EntryValidation<ClusterService>.Reject(clusterError);
        }

        if (!ClusterMeshJson.TryDeserialize(value, out ClusterService? service, out var error))
        {
            return EntryValidation<ClusterService>.Reject($"service {key}: {error}");
        }

        var mismatch = Mismatch(key, "cluster", service.Cluster, keyCluster)
            ?? Mismatch(key, "namespace", service.Namespace, keyNamespace)
            ?? Mismatch(key, "name", service.Name, keyName)
            ?? ClusterIdMismatch(key, service.ClusterId, remote);
        return mismatch is null ? EntryValidation<ClusterService>.Accept(service) : EntryValidation<ClusterService>.Reject(mismatch);
    }

    public static EntryValidation<IdentityEntry> ValidateIdentity(string key, ReadOnlySpan<byte> value, RemoteClusterInfo remote)
    {
        if (CheckRemote(remote) is { } remoteError)
        {
            return EntryValidation<IdentityEntry>.Reject(remoteError);
        }

        if (!ClusterMeshKeys.TryParseIdentityKey(key, out var keyCluster, out var id))
        {
            return EntryValidation<IdentityEntry>.Reject(
                $"key \"{key}\" is not an identity key ({ClusterMeshKeys.IdentitiesPrefix}/id/<number>)");
        }

        if (keyCluster is not null && CheckKeyCluster(key, keyCluster, remote) is { } clusterError)
        {
            return EntryValidation<IdentityEntry>.Reject(clusterError);
        }

        var range = ClusterIdentity.ValidateIdentity(id, remote.Id, remote.MaxConnectedClusters);
        if (!range.Ok)
        {
            return EntryValidation<IdentityEntry>.Reject($"{key}: {range.Error}");
        }

        if (!ClusterMeshJson.TryDeserialize(value, out IdentityLabels? labels, out var error))
        {
            return EntryValidation<IdentityEntry>.Reject($"identity {key}: {error}");
        }

        if (labels.Cluster is not { } labelCluster)
        {
            return EntryValidation<IdentityEntry>.Reject(
                $"identity {key}: labels carry no {IdentityLabels.KubernetesSource}:{IdentityLabels.ClusterLabelKey} label");
        }

        return labelCluster == remote.Name
            ? EntryValidation<IdentityEntry>.Accept(new IdentityEntry(id, labels))
            : EntryValidation<IdentityEntry>.Reject(
                $"identity {key}: cluster label \"{labelCluster}\" is not the remote cluster \"{remote.Name}\"");
    }

    public static EntryValidation<IPIdentityPair> ValidateIp(string key, ReadOnlySpan<byte> value, RemoteClusterInfo remote)
    {
        if (CheckRemote(remote) is { } remoteError)
        {
            return EntryValidation<IPIdentityPair>.Reject(remoteError);
        }

        if (!ClusterMeshKeys.TryParseIpKey(key, out var keyCluster, out var keyIp, out var keyPrefixLength)
            || !GoIPText.TryParse(keyIp, out _))
        {
            return EntryValidation<IPIdentityPair>.Reject(
                $"key \"{key}\" is not an ip key ({ClusterMeshKeys.IpPrefix}/{ClusterMeshKeys.IpAddressSpace}/<ip>[/<len>])");
        }

        if (keyCluster is not null && CheckKeyCluster(key, keyCluster, remote) is { } clusterError)
        {
            return EntryValidation<IPIdentityPair>.Reject(clusterError);
        }

        if (!ClusterMeshJson.TryDeserialize(value, out IPIdentityPair? pair, out var error))
        {
            return EntryValidation<IPIdentityPair>.Reject($"ip entry {key}: {error}");
        }

        if (!GoIPText.AreSameAddress(keyIp, pair.IP))
        {
            return EntryValidation<IPIdentityPair>.Reject($"ip entry {key}: value IP \"{pair.IP}\" does not match the key's \"{keyIp}\"");
        }

        var valueMask = pair.Mask is { IsJsonNull: false } mask ? mask : null;
        if (keyPrefixLength is { } length && valueMask?.PrefixLength != length)
        {
            return EntryValidation<IPIdentityPair>.Reject(string.Create(
                CultureInfo.InvariantCulture,
                $"ip entry {key}: the key has prefix length {length} but the value's mask is {(valueMask is null ? "not set" : $"/{valueMask.PrefixLength?.ToString(CultureInfo.InvariantCulture) ?? "non-contiguous"}")}"));
        }

        if (keyPrefixLength is null && valueMask is not null)
        {
            return EntryValidation<IPIdentityPair>.Reject($"ip entry {key}: the value has a mask, so its key must be <ip>/<len>");
        }

        if (!ClusterIdentity.IsReservedIdentity(pair.Id))
        {
            var range = ClusterIdentity.ValidateIdentity(pair.Id, remote.Id, remote.MaxConnectedClusters);
            if (!range.Ok)
            {
                return EntryValidation<IPIdentityPair>.Reject($"ip entry {key}: {range.Error}, and it is not a reserved identity (1-255)");
            }
        }

        return EntryValidation<IPIdentityPair>.Accept(pair);
    }

    private static EntryValidation<object> Widen<T>(EntryValidation<T> result)
        where T : class => new(result.Ok, result.Reason, result.Value);

    private static string? CheckRemote(RemoteClusterInfo remote)
    {
        var name = ClusterIdentity.ValidateClusterName(remote.Name);
        if (!name.Ok)
        {
            return $"remote cluster is misconfigured: {name.Error}";
        }

        var id = ClusterIdentity.ValidateClusterId(remote.Id, remote.MaxConnectedClusters);
        return id.Ok ? null : $"remote cluster \"{remote.Name}\" is misconfigured: {id.Error}";
    }

    private static string? CheckKeyCluster(string key, string keyCluster, RemoteClusterInfo remote) =>
        keyCluster == remote.Name ? null : $"key \"{key}\" names cluster \"{keyCluster}\", not the remote cluster \"{remote.Name}\"";

    private static string? Mismatch(string key, string field, string valueText, string keyText) =>
        valueText == keyText ? null : $"{key}: value {field} \"{valueText}\" does not match the key's \"{keyText}\"";

    private static string? ClusterIdMismatch(string key, uint valueId, RemoteClusterInfo remote) =>
        valueId == remote.Id
            ? null
            : string.Create(CultureInfo.InvariantCulture, $"{key}: value clusterID {valueId} is not the remote cluster's ID {remote.Id}");
}
