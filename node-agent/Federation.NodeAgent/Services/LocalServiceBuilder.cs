using System.Collections.Immutable;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Models;
using Federation.Mesh.Services;

namespace Federation.NodeAgent.Services;

/// <summary>
/// Turns a Kubernetes Service and its EndpointSlices into the <see cref="LocalService"/> the merge takes
/// (the same port and condition rules as the clustermesh-apiserver's exporter).
/// </summary>
internal static class LocalServiceBuilder
{
    /// <summary>The label that ties an EndpointSlice to its Service.</summary>
    public const string ServiceNameLabel = "kubernetes.io/service-name";

    /// <summary>
    /// The Service as the node programs it, or null when it has no cluster IP (headless, ExternalName, not yet allocated):
    /// such a Service has nothing to load-balance.
    /// </summary>
    public static (LocalService? Service, ImmutableArray<string> Problems) Build(Service service, IEnumerable<EndpointSlice> slices)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(slices);
        var frontends = Frontends(service.Spec);
        if (service.Spec?.Type == "ExternalName" || frontends.IsEmpty)
        {
            return (null, []);
        }

        var settings = GlobalServiceAnnotations.Parse(service.Metadata.Annotations);
        var backends = new Dictionary<string, (Dictionary<string, L4Addr> Ports, BackendState State)>(StringComparer.Ordinal);
        foreach (var slice in slices)
        {
            if (slice.AddressType is "FQDN")
            {
                continue;
            }

            var ports = PortsOf(slice);
            foreach (var endpoint in slice.Endpoints ?? [])
            {
                var state = StateOf(endpoint.Conditions);
                foreach (var address in endpoint.Addresses)
                {
                    if (!backends.TryGetValue(address, out var entry))
                    {
                        entry = (new Dictionary<string, L4Addr>(StringComparer.Ordinal), state);
                    }

                    foreach (var (name, addr) in ports)
                    {
                        entry.Ports[name] = addr;
                    }

                    // The same address in two slices (during a slice split): the healthier view wins.
                    backends[address] = (entry.Ports, state < entry.State ? state : entry.State);
                }
            }
        }

        var local = new LocalService
        {
            Namespace = service.Metadata.Namespace ?? string.Empty,
            Name = service.Metadata.Name ?? string.Empty,
            Global = settings.Global,
            Shared = settings.Shared,
            Affinity = settings.Affinity,
            Frontends = frontends,
            Backends =
            [
                .. backends
                    .OrderBy(b => b.Key, StringComparer.Ordinal)
                    .Select(b => new LocalBackend { Ip = b.Key, Ports = b.Value.Ports.ToImmutableDictionary(StringComparer.Ordinal), State = b.Value.State }),
            ],
        };
        return (local, settings.Problems);
    }

    /// <summary>
    /// Ready → active; serving and terminating → terminating (used only when nothing is active); otherwise not ready.
    /// A missing ready or serving condition counts as true, a missing terminating one as false (Kubernetes' defaults).
    /// </summary>
    public static BackendState StateOf(EndpointConditions? conditions)
    {
        var ready = conditions?.Ready ?? true;
        var serving = conditions?.Serving ?? true;
        var terminating = conditions?.Terminating ?? false;
        return ready ? BackendState.Active : serving && terminating ? BackendState.Terminating : BackendState.NotReady;
    }

    private static ImmutableArray<LocalFrontend> Frontends(ServiceSpec? spec)
    {
        if (spec is null)
        {
            return [];
        }

        IEnumerable<string> ips = spec.ClusterIPs is { Count: > 0 } list ? list : spec.ClusterIP is { } single ? [single] : [];
        var result = ImmutableArray.CreateBuilder<LocalFrontend>();
        foreach (var ip in ips)
        {
            if (string.IsNullOrEmpty(ip) || ip == "None")
            {
                continue;
            }

            foreach (var port in spec.Ports ?? [])
            {
                if (port.Port is > 0 and <= ushort.MaxValue)
                {
                    result.Add(new LocalFrontend(ip, port.Name ?? string.Empty, port.Protocol ?? "TCP", (ushort)port.Port));
                }
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
}
