using System.Collections.Immutable;
using System.Text.Json;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Models;
using Endpoint = Federation.Kubernetes.Models.Endpoint;

namespace Federation.ClusterMesh.ApiServer.Services;

/// <summary>
/// Computes the ClusterService Cilium writes for a Service, its EndpointSlices and its Namespace, or null when
/// the Service is not exported (not global, not shared, ExternalName, or its namespace opted out).
/// </summary>
internal static class ClusterServiceBuilder
{
    /// <summary>What <see cref="Build"/> decided, plus any malformed annotations (the default was used for each).</summary>
    internal sealed record Result(ClusterService? Service, IReadOnlyList<BoolAnnotation> Invalid);

    public static Result Build(Service service, IEnumerable<EndpointSlice> slices, Namespace? @namespace, string cluster, uint clusterId)
    {
        ArgumentNullException.ThrowIfNull(service);
        var invalid = new List<BoolAnnotation>();
        var annotations = service.Metadata.Annotations;
        var global = Note(GlobalServiceAnnotations.Read(annotations, GlobalServiceAnnotations.Global, GlobalServiceAnnotations.GlobalAlias, defaultValue: false), invalid);
        var shared = Note(GlobalServiceAnnotations.Read(annotations, GlobalServiceAnnotations.Shared, GlobalServiceAnnotations.SharedAlias, defaultValue: true), invalid);
        var namespaceGlobal = Note(GlobalServiceAnnotations.Read(@namespace?.Metadata.Annotations, GlobalServiceAnnotations.NamespaceGlobal, null, defaultValue: true), invalid);
        if (!global || !shared || !namespaceGlobal || service.Spec?.Type == "ExternalName")
        {
            return new Result(null, invalid);
        }

        var backends = new Dictionary<string, Dictionary<string, L4Addr>>(StringComparer.Ordinal);
        var zones = new Dictionary<string, BackendZone>(StringComparer.Ordinal);
        var hostnames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var slice in slices)
        {
            if (slice.AddressType is "FQDN")
            {
                continue;
            }

            var ports = PortsOf(slice);
            foreach (var endpoint in slice.Endpoints ?? [])
            {
                if (!IsExported(endpoint.Conditions))
                {
                    continue;
                }

                foreach (var address in endpoint.Addresses)
                {
                    if (!backends.TryGetValue(address, out var byName))
                    {
                        byName = new Dictionary<string, L4Addr>(StringComparer.Ordinal);
                        backends[address] = byName;
                    }

                    foreach (var (name, addr) in ports)
                    {
                        byName[name] = addr;
                    }

                    if (!string.IsNullOrEmpty(endpoint.Zone))
                    {
                        zones[address] = new BackendZone { Zone = endpoint.Zone, ForZones = ForZonesOf(endpoint) };
                    }

                    if (!string.IsNullOrEmpty(endpoint.Hostname))
                    {
                        hostnames[address] = endpoint.Hostname;
                    }
                }
            }
        }

        var clusterService = new ClusterService
        {
            Cluster = cluster,
            Namespace = service.Metadata.Namespace ?? string.Empty,
            Name = service.Metadata.Name ?? string.Empty,
            Frontends = Frontends(service.Spec),
            Backends = backends.ToImmutableDictionary(b => b.Key, b => b.Value.ToImmutableDictionary(StringComparer.Ordinal), StringComparer.Ordinal),
            Hostnames = hostnames.Count > 0 ? hostnames.ToImmutableDictionary(StringComparer.Ordinal) : null,
            Zones = zones.Count > 0 ? zones.ToImmutableDictionary(StringComparer.Ordinal) : null,
            Labels = ToMap(service.Metadata.Labels),
            Selector = ToMap(service.Spec?.Selector),
            IncludeExternal = global,
            Shared = shared,
            ClusterId = clusterId,
        };
        return new Result(clusterService, invalid);
    }

    /// <summary>
    /// Cilium's rule (ParseEndpointSliceV1): a ready endpoint, or a terminating one that still serves; a missing
    /// ready/serving condition counts as true, a missing terminating condition as false.
    /// </summary>
    public static bool IsExported(EndpointConditions? conditions)
    {
        var ready = conditions?.Ready ?? true;
        var serving = conditions?.Serving ?? true;
        var terminating = conditions?.Terminating ?? false;
        return ready || (serving && terminating);
    }

    private static bool Note(BoolAnnotation annotation, List<BoolAnnotation> invalid)
    {
        if (annotation.InvalidName is not null)
        {
            invalid.Add(annotation);
        }

        return annotation.Value;
    }

    private static ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>> Frontends(ServiceSpec? spec)
    {
        var result = ImmutableDictionary.CreateBuilder<string, ImmutableDictionary<string, L4Addr>>(StringComparer.Ordinal);
        if (spec is null)
        {
            return result.ToImmutable();
        }

        IEnumerable<string> ips = spec.ClusterIPs is { Count: > 0 } list ? list : spec.ClusterIP is { } single ? [single] : [];
        var ports = ImmutableDictionary.CreateBuilder<string, L4Addr>(StringComparer.Ordinal);
        foreach (var port in spec.Ports ?? [])
        {
            if (port.Port is > 0 and <= ushort.MaxValue)
            {
                ports[port.Name ?? string.Empty] = new L4Addr { Protocol = port.Protocol ?? "TCP", Port = (ushort)port.Port };
            }
        }

        var portMap = ports.ToImmutable();
        foreach (var ip in ips)
        {
            // Headless ("None") and unallocated Services have no frontend.
            if (!string.IsNullOrEmpty(ip) && ip != "None")
            {
                result[ip] = portMap;
            }
        }

        return result.ToImmutable();
    }

    private static List<(string Name, L4Addr Addr)> PortsOf(EndpointSlice slice)
    {
        var result = new List<(string, L4Addr)>();
        foreach (var port in slice.Ports ?? [])
        {
            if (port.Port is { } number and > 0 and <= ushort.MaxValue)
            {
                result.Add((port.Name ?? string.Empty, new L4Addr { Protocol = port.Protocol ?? "TCP", Port = (ushort)number }));
            }
        }

        return result;
    }

    private static ImmutableList<ForZone>? ForZonesOf(Endpoint endpoint)
    {
        // "hints" is not modelled by the Kubernetes library; it arrives in the extension data.
        if (endpoint.ExtensionData is null
            || !endpoint.ExtensionData.TryGetValue("hints", out var hints)
            || hints.ValueKind != JsonValueKind.Object
            || !hints.TryGetProperty("forZones", out var forZones)
            || forZones.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var result = ImmutableList.CreateBuilder<ForZone>();
        foreach (var zone in forZones.EnumerateArray())
        {
            if (zone.ValueKind == JsonValueKind.Object && zone.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            {
                result.Add(new ForZone { Name = name.GetString()! });
            }
        }

        return result.ToImmutable();
    }

    private static ImmutableDictionary<string, string> ToMap(IReadOnlyDictionary<string, string>? map)
        => map is null ? ImmutableDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal) : map.ToImmutableDictionary(StringComparer.Ordinal);
}
