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

    public bool Equals(MergedFrontend? other) =>
        other is not null
        && Ip == other.Ip
        && Port == other.Port
        && Protocol == other.Protocol
        && PortName == other.PortName
        && ValueEquality.SequenceEquals(Backends, other.Backends);

    public override int GetHashCode() => HashCode.Combine(Ip, Port, Protocol, PortName, ValueEquality.SequenceHash(Backends));
}

/// <summary>A selected backend: where to send the connection and which cluster it lives in.</summary>
public sealed record MergedBackend(string Ip, ushort Port, string Protocol, uint ClusterId, string Cluster, BackendState State);

/// <summary>A backend IP that several clusters claim (overlapping pod CIDRs); clusters ordered by name.</summary>
public sealed record DuplicateBackend
{
    public string Ip { get; init => field = value ?? string.Empty; } = string.Empty;

    public ImmutableArray<string> Clusters { get; init => field = value.IsDefault ? [] : value; } = [];

    public bool Equals(DuplicateBackend? other) =>
        other is not null && Ip == other.Ip && ValueEquality.SequenceEquals(Clusters, other.Clusters);

    public override int GetHashCode() => HashCode.Combine(Ip, ValueEquality.SequenceHash(Clusters));
}
