using System.Collections.Immutable;
using Federation.Etcd;
using Federation.Etcd.Protocol;
using Google.Protobuf;

namespace Federation.ClusterMesh.ApiServer.Security;

/// <summary>An etcd role, the single keys and the key prefixes it may read (it is never granted write).</summary>
internal sealed record EtcdRole(string Name, ImmutableArray<string> ReadPrefixes, ImmutableArray<string> ReadKeys = default)
{
    public ImmutableArray<string> ReadKeys { get; init; } = ReadKeys.IsDefault ? [] : ReadKeys;

    /// <summary>Every read permission the role holds, prefixes first; anything else etcd reports for it is revoked.</summary>
    public IEnumerable<EtcdReadGrant> Grants
        => ReadPrefixes.Select(p => new EtcdReadGrant(p, IsPrefix: true)).Concat(ReadKeys.Select(k => new EtcdReadGrant(k, IsPrefix: false)));
}

/// <summary>Read access to one key, or to every key starting with <see cref="Key"/> when <see cref="IsPrefix"/>.</summary>
internal sealed record EtcdReadGrant(string Key, bool IsPrefix)
{
    /// <summary>Whether <paramref name="permission"/> covers exactly this range (whatever its type): etcd keys permissions by range.</summary>
    public bool SameRange(Permission permission)
        => permission.Key == ByteString.CopyFromUtf8(Key)
            && permission.RangeEnd == (IsPrefix ? KeyRange.PrefixEnd(Key) : ByteString.Empty);

    public override string ToString() => (IsPrefix ? "prefix '" : "key '") + Key + "'";
}

/// <summary>An etcd user (the CN of its client certificate) and the one role it holds.</summary>
internal sealed record EtcdUser(string Name, string Role);

/// <summary>
/// The etcd users and roles of one cluster's etcd. With client-certificate auth the certificate CN is the
/// user, so each name here is also the CN of a certificate made by <see cref="CertificateTool"/>.
/// </summary>
internal sealed record EtcdAccessPlan(ImmutableArray<EtcdRole> Roles, ImmutableArray<EtcdUser> Users)
{
    /// <summary>etcd's built-in role with every permission; auth cannot be enabled without a <c>root</c> user holding it.</summary>
    public const string RootRole = "root";

    /// <summary>The role of every <c>remote-&lt;peer&gt;</c> user (peer clusters' kvstoremesh).</summary>
    public const string RemoteRole = "remote";

    /// <summary>The role of the <c>local-&lt;cluster&gt;</c> user (this cluster's node agents).</summary>
    public const string LocalRole = "local";

    /// <summary>Users with this prefix that the plan does not list belong to peers no longer configured and are removed.</summary>
    public const string RemoteUserPrefix = "remote-";

    public static string AdminUser(string cluster) => "admin-" + cluster;

    public static string LocalUser(string cluster) => "local-" + cluster;

    public static string RemoteUser(string peer) => RemoteUserPrefix + peer;

    /// <summary>The plan for the etcd of <paramref name="cluster"/>, read by <paramref name="peers"/>.</summary>
    public static EtcdAccessPlan For(string cluster, IEnumerable<string> peers)
    {
        // Peers read only what this cluster exports: its state, its heartbeat, its own config and canaries.
        // The heartbeat and the config are single keys: as prefixes, "cilium/cluster-config/c1" would also
        // match "cilium/cluster-config/c10".
        var remote = new EtcdRole(RemoteRole,
            ["cilium/state/", "cilium/synced/" + cluster + "/"],
            ["cilium/.heartbeat", "cilium/cluster-config/" + cluster]);

        // Node agents read the remote clusters' state from the kvstoremesh cache, the configs and canaries
        // (of this cluster and the cached ones of remotes), this cluster's own state (identities and IP
        // entries the apiserver allocates; nodes and services they otherwise take from Kubernetes), and the
        // heartbeat, by which they tell a live cache from one whose apiserver stopped.
        var local = new EtcdRole(LocalRole,
        [
            "cilium/cache/",
            "cilium/cluster-config/",
            "cilium/synced/",
            "cilium/state/",
        ],
        ["cilium/.heartbeat"]);

        var users = ImmutableArray.CreateBuilder<EtcdUser>();
        users.Add(new EtcdUser("root", RootRole));
        users.Add(new EtcdUser(AdminUser(cluster), RootRole));
        users.Add(new EtcdUser(LocalUser(cluster), LocalRole));
        foreach (var peer in peers.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            users.Add(new EtcdUser(RemoteUser(peer), RemoteRole));
        }

        return new EtcdAccessPlan([remote, local], users.ToImmutable());
    }

    /// <summary>Whether <paramref name="user"/> is a peer user this plan no longer lists.</summary>
    public bool IsStale(string user)
        => user.StartsWith(RemoteUserPrefix, StringComparison.Ordinal) && !Users.Any(u => u.Name == user);
}
