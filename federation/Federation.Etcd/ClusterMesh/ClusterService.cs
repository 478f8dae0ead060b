using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Federation.Etcd.ClusterMesh;

/// <summary>
/// <c>cilium/state/services/v1/&lt;cluster&gt;/&lt;ns&gt;/&lt;name&gt;</c>: one cluster's part of a global
/// service. Maps that Go writes as <c>null</c> when nil are nullable here; Cilium's own writer
/// always sets <see cref="Frontends"/>, <see cref="Backends"/>, <see cref="Labels"/> and
/// <see cref="Selector"/> (empty: <c>{}</c>).
/// </summary>
public sealed record ClusterService
{
    [JsonPropertyName("cluster")]
    public string Cluster { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("namespace")]
    public string Namespace { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Service IP → port name ("" for an unnamed port) → address.</summary>
    [JsonPropertyName("frontends")]
    public ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>? Frontends { get; init; }

    /// <summary>Ready backend IP → port name → address.</summary>
    [JsonPropertyName("backends")]
    public ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>? Backends { get; init; }

    /// <summary>Backend IP → hostname (omitted when empty).</summary>
    [JsonPropertyName("hostnames")]
    [GoOmitEmpty]
    public ImmutableDictionary<string, string>? Hostnames { get; init; }

    /// <summary>Backend IP → topology zone (omitted when empty).</summary>
    [JsonPropertyName("zones")]
    [GoOmitEmpty]
    public ImmutableDictionary<string, BackendZone>? Zones { get; init; }

    [JsonPropertyName("labels")]
    public ImmutableDictionary<string, string>? Labels { get; init; }

    [JsonPropertyName("selector")]
    public ImmutableDictionary<string, string>? Selector { get; init; }

    [JsonPropertyName("includeExternal")]
    public bool IncludeExternal { get; init; }

    [JsonPropertyName("shared")]
    public bool Shared { get; init; }

    [JsonPropertyName("clusterID")]
    public uint ClusterId { get; init; }

    public bool Equals(ClusterService? other) =>
        other is not null
        && Cluster == other.Cluster
        && Namespace == other.Namespace
        && Name == other.Name
        && WireEquality.MapEquals(Frontends, other.Frontends, MapComparer<L4Addr>.Default)
        && WireEquality.MapEquals(Backends, other.Backends, MapComparer<L4Addr>.Default)
        && WireEquality.MapEquals(Hostnames, other.Hostnames, nullEqualsEmpty: true)
        && WireEquality.MapEquals(Zones, other.Zones, nullEqualsEmpty: true)
        && WireEquality.MapEquals(Labels, other.Labels)
        && WireEquality.MapEquals(Selector, other.Selector)
        && IncludeExternal == other.IncludeExternal
        && Shared == other.Shared
        && ClusterId == other.ClusterId;

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Cluster);
        hash.Add(Namespace);
        hash.Add(Name);
        hash.Add(WireEquality.MapHash(Frontends, MapComparer<L4Addr>.Default));
        hash.Add(WireEquality.MapHash(Backends, MapComparer<L4Addr>.Default));
        hash.Add(Hostnames is { Count: > 0 } ? WireEquality.MapHash(Hostnames) : 0);
        hash.Add(Zones is { Count: > 0 } ? WireEquality.MapHash(Zones) : 0);
        hash.Add(WireEquality.MapHash(Labels));
        hash.Add(WireEquality.MapHash(Selector));
        hash.Add(IncludeExternal);
        hash.Add(Shared);
        hash.Add(ClusterId);
        return hash.ToHashCode();
    }
}

/// <summary>A layer-4 address, Go field names: <c>{"Protocol":"TCP","Port":80}</c>.</summary>
public sealed record L4Addr
{
    /// <summary>"TCP", "UDP" or "SCTP".</summary>
    [JsonPropertyName("Protocol")]
    public string Protocol { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("Port")]
    public ushort Port { get; init; }
}

/// <summary>The zone of a backend and the zones it serves (EndpointSlice hints).</summary>
public sealed record BackendZone
{
    [JsonPropertyName("zone")]
    public string Zone { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("forZones")]
    public ImmutableList<ForZone>? ForZones { get; init; }

    public bool Equals(BackendZone? other) =>
        other is not null && Zone == other.Zone && WireEquality.ListEquals(ForZones, other.ForZones);

    public override int GetHashCode() => HashCode.Combine(Zone, WireEquality.ListHash(ForZones));
}

/// <summary>One entry of <see cref="BackendZone.ForZones"/>.</summary>
public sealed record ForZone
{
    [JsonPropertyName("name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;
}
