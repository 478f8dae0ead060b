using System.Collections.Immutable;

namespace Federation.Mesh.Services;

/// <summary>A Service's identity inside a cluster and across the mesh.</summary>
public readonly record struct ServiceName(string Namespace, string Name)
{
    public override string ToString() => $"{Namespace}/{Name}";
}

/// <summary>
/// What the datapath programs for one global service: each local frontend with its ordered backends,
/// and the backend IPs that more than one cluster claims. Equality is structural (the cache raises a
/// change only when this value changes).
/// </summary>
public sealed record MergedService
{
    public string Namespace { get; init => field = value ?? string.Empty; } = string.Empty;

    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Ordered by IP (ordinal), port, protocol, port name; empty when the local Service is absent.</summary>
    public ImmutableArray<MergedFrontend> Frontends { get; init => field = value.IsDefault ? [] : value; } = [];

    /// <summary>Backend IPs found in more than one cluster among those that may contribute, ordered by IP.</summary>
    public ImmutableArray<DuplicateBackend> Duplicates { get; init => field = value.IsDefault ? [] : value; } = [];

    public ServiceName Key => new(Namespace, Name);

    public bool Equals(MergedService? other) =>
        other is not null
        && Namespace == other.Namespace
        && Name == other.Name
        && ValueEquality.SequenceEquals(Frontends, other.Frontends)
        && ValueEquality.SequenceEquals(Duplicates, other.Duplicates);

    public override int GetHashCode() =>
        HashCode.Combine(Namespace, Name, ValueEquality.SequenceHash(Frontends), ValueEquality.SequenceHash(Duplicates));
}

/// <summary>One local frontend and the backends chosen for it, in datapath slot order.</summary>
public sealed record MergedFrontend
{
    public string Ip { get; init => field = value ?? string.Empty; } = string.Empty;

    public ushort Port { get; init; }

    public string Protocol { get; init => field = value ?? string.Empty; } = string.Empty;

    public string PortName { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Local cluster first, then by cluster ID, IP (ordinal) and port.</summary>
    public ImmutableArray<MergedBackend> Backends { get; init => field = value.IsDefault ? [] : value; } = [];

    /// <summary>
    /// Candidates of this frontend that no datapath can use (see <see cref="SkippedBackendReason"/>), left out before
    /// affinity was applied; ordered by cluster, IP (ordinal) and port.
    /// </summary>
    public ImmutableArray<SkippedBackend> SkippedBackends { get; init => field = value.IsDefault ? [] : value; } = [];

    public bool Equals(MergedFrontend? other) =>
        other is not null
        && Ip == other.Ip
        && Port == other.Port
        && Protocol == other.Protocol
        && PortName == other.PortName
        && ValueEquality.SequenceEquals(Backends, other.Backends)
        && ValueEquality.SequenceEquals(SkippedBackends, other.SkippedBackends);

    public override int GetHashCode() =>
        HashCode.Combine(Ip, Port, Protocol, PortName, ValueEquality.SequenceHash(Backends), ValueEquality.SequenceHash(SkippedBackends));
}

/// <summary>A selected backend: where to send the connection and which cluster it lives in.</summary>
public sealed record MergedBackend(string Ip, ushort Port, string Protocol, uint ClusterId, string Cluster, BackendState State);

/// <summary>A backend the merge left out because it cannot be used, with the reason (a <see cref="SkippedBackendReason"/> value).</summary>
public sealed record SkippedBackend(string Ip, ushort Port, string Cluster, string Reason);

/// <summary>Why a backend was left out (the <c>reason</c> label of the agent's skipped-backends metric).</summary>
public static class SkippedBackendReason
{
    /// <summary>The address does not parse as an IP address.</summary>
    public const string InvalidAddress = "invalid-address";

    /// <summary>An IPv6 backend of an IPv4 frontend (no NAT64 in the datapath).</summary>
    public const string Ipv6 = "ipv6";

    /// <summary>An IPv4 backend of an IPv6 frontend.</summary>
    public const string Ipv4 = "ipv4";

    /// <summary>The port is 0 (an entry that names no port).</summary>
    public const string PortZero = "port-zero";
}

/// <summary>A backend IP that several clusters claim (overlapping pod CIDRs); clusters ordered by name.</summary>
public sealed record DuplicateBackend
{
    public string Ip { get; init => field = value ?? string.Empty; } = string.Empty;

    public ImmutableArray<string> Clusters { get; init => field = value.IsDefault ? [] : value; } = [];

    public bool Equals(DuplicateBackend? other) =>
        other is not null && Ip == other.Ip && ValueEquality.SequenceEquals(Clusters, other.Clusters);

    public override int GetHashCode() => HashCode.Combine(Ip, ValueEquality.SequenceHash(Clusters));
}
