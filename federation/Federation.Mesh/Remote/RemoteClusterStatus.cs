using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Federation.Mesh.Remote;

/// <summary>Where a remote cluster connection stands.</summary>
public enum RemoteClusterState
{
    /// <summary>Creating the client and reading the remote's cluster config.</summary>
    Connecting,

    /// <summary>Connected and validated; waiting for the first complete listing of every kind.</summary>
    Syncing,

    /// <summary>Every kind is synced and the connection is healthy.</summary>
    Ready,

    /// <summary>The last attempt failed (unreachable, no cluster config, no heartbeat); retrying with backoff.</summary>
    Failing,

    /// <summary>Its config (file, or cached cluster config) was removed: everything it provided has been deleted.</summary>
    Removed,

    /// <summary>Its cluster config breaks a mesh rule (ID in use, out of range, other mesh size); retrying with backoff.</summary>
    Refused,
}

/// <summary>Synced flag and entry count of one kind of a remote cluster.</summary>
public sealed record RemoteKindStatus(bool Synced, int Entries);

/// <summary>A snapshot of one remote cluster connection.</summary>
public sealed record RemoteClusterStatus
{
    public required string Name { get; init; }

    public required RemoteClusterState State { get; init; }

    /// <summary>The cluster ID from the remote's validated cluster config (null before the first validation).</summary>
    public uint? ClusterId { get; init; }

    public ImmutableArray<string> Endpoints { get; init; } = [];

    /// <summary>The last time a connection was validated.</summary>
    public DateTimeOffset? LastConnected { get; init; }

    public DateTimeOffset? LastFailure { get; init; }

    public string? LastFailureReason { get; init; }

    public long Failures { get; init; }

    /// <summary>When the remote's heartbeat was last seen changing.</summary>
    public DateTimeOffset? LastHeartbeat { get; init; }

    /// <summary>Since when the entries shown are the last known state of an unreachable remote.</summary>
    public DateTimeOffset? StaleSince { get; init; }

    /// <summary>Per kind (<c>nodes</c>, <c>services</c>, <c>identities</c>, <c>ips</c>).</summary>
    public ImmutableSortedDictionary<string, RemoteKindStatus> Kinds { get; init; } = ImmutableSortedDictionary<string, RemoteKindStatus>.Empty;

    /// <summary>Entries that failed validation and were skipped.</summary>
    public long InvalidEntries { get; init; }

    public bool Synced => Kinds.Count > 0 && Kinds.Values.All(k => k.Synced);
}

/// <summary>A file of the config directory (or, for <see cref="CachedRemoteClusterSource"/>, a cluster config key) that does not describe a usable remote cluster.</summary>
public sealed record RejectedRemoteConfig(string FileName, string Reason);

/// <summary>A snapshot of all remote clusters, and of the config files that were rejected.</summary>
public sealed record RemoteClustersStatus(ImmutableArray<RemoteClusterStatus> Clusters, ImmutableArray<RejectedRemoteConfig> Rejected)
{
    public RemoteClusterStatus? Find(string name) => Clusters.FirstOrDefault(c => c.Name == name);
}

/// <summary>Source-generated JSON for the status API and the CLI.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RemoteClustersStatus))]
[JsonSerializable(typeof(RemoteClusterStatus))]
public sealed partial class RemoteClusterStatusJsonContext : JsonSerializerContext;
