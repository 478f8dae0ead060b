using System.Collections.Immutable;
using Federation.Etcd.ClusterMesh;

namespace Federation.Mesh.Services;

/// <summary>The health of a backend, from its EndpointSlice conditions.</summary>
public enum BackendState
{
    /// <summary>Ready: takes new connections.</summary>
    Active,

    /// <summary>Serving but terminating: used only when no backend anywhere is active.</summary>
    Terminating,

    /// <summary>Neither ready nor serving: never used.</summary>
    NotReady,
}

/// <summary>The local cluster's Service with its EndpointSlice backends, as the node agent reads them from Kubernetes.</summary>
public sealed record LocalService
{
    public string Namespace { get; init => field = value ?? string.Empty; } = string.Empty;

    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Annotated global: only then are remote clusters' backends used.</summary>
    public bool Global { get; init; }

    /// <summary>Whether the local backends are exported; does not change what this cluster's nodes use.</summary>
    public bool Shared { get; init; } = true;

    public ServiceAffinity Affinity { get; init; }

    /// <summary>The Service's VIP:port entries; empty for a headless Service.</summary>
    public ImmutableArray<LocalFrontend> Frontends { get; init => field = value.IsDefault ? [] : value; } = [];

    public ImmutableArray<LocalBackend> Backends { get; init => field = value.IsDefault ? [] : value; } = [];

    public bool Equals(LocalService? other) =>
        other is not null
        && Namespace == other.Namespace
        && Name == other.Name
        && Global == other.Global
        && Shared == other.Shared
        && Affinity == other.Affinity
        && ValueEquality.SequenceEquals(Frontends, other.Frontends)
        && ValueEquality.SequenceEquals(Backends, other.Backends);

    public override int GetHashCode() =>
        HashCode.Combine(Namespace, Name, Global, Shared, Affinity, ValueEquality.SequenceHash(Frontends), ValueEquality.SequenceHash(Backends));
}

/// <summary>One service port on one service IP: <c>Ip:Port/Protocol</c>, named <see cref="PortName"/> ("" when unnamed).</summary>
public sealed record LocalFrontend(string Ip, string PortName, string Protocol, ushort Port);

/// <summary>One endpoint: its IP, its ports by port name ("" when unnamed), and its health.</summary>
public sealed record LocalBackend
{
    public string Ip { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Port name → protocol and target port; matched to frontends by name and protocol.</summary>
    public ImmutableDictionary<string, L4Addr> Ports { get; init => field = value ?? ImmutableDictionary<string, L4Addr>.Empty; } =
        ImmutableDictionary<string, L4Addr>.Empty;

    public BackendState State { get; init; }

    public bool Equals(LocalBackend? other) =>
        other is not null && Ip == other.Ip && State == other.State && ValueEquality.MapEquals(Ports, other.Ports);

    public override int GetHashCode() => HashCode.Combine(Ip, State, ValueEquality.MapHash(Ports));
}
