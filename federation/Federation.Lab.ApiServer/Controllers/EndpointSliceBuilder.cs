using System.Security.Cryptography;
using System.Text;
using Federation.Kubernetes.Models;
using Endpoint = Federation.Kubernetes.Models.Endpoint;

namespace Federation.Lab.ApiServer.Controllers;

/// <summary>
/// The EndpointSlices a Service with a selector should have, given the Pods of its namespace, as the
/// Kubernetes EndpointSlice controller computes them: one endpoint per selected Pod with an IP, ports
/// resolved per Pod from targetPort (a number, or a container port name; a name the Pod lacks drops that
/// port for that Pod), Pods grouped into one slice per resolved port set, conditions from readiness and
/// deletion. A Service whose Pods are all gone keeps one empty placeholder slice.
/// </summary>
internal static class EndpointSliceBuilder
{
    public const string ServiceNameLabel = "kubernetes.io/service-name";
    public const string ManagedByLabel = "endpointslice.kubernetes.io/managed-by";
    public const string ManagedByValue = "endpointslice-controller.k8s.io";

    /// <summary>Null when the Service has no selector: its slices, if any, are somebody else's.</summary>
    public static IReadOnlyList<EndpointSlice>? Build(Service service, IEnumerable<Pod> podsInNamespace)
    {
        if (service.Spec?.Selector is not { Count: > 0 } selector)
        {
            return null;
        }

        var servicePorts = service.Spec.Ports ?? [];
        var publishNotReady = service.Spec.PublishNotReadyAddresses == true;
        var groups = new SortedDictionary<string, (List<EndpointPort> Ports, List<Endpoint> Endpoints)>(StringComparer.Ordinal);
        foreach (var pod in podsInNamespace)
        {
            if (!Selects(selector, pod) || PodIp(pod) is not { } ip || pod.Status?.Phase is "Succeeded" or "Failed")
            {
                continue;
            }

            var ports = ResolvePorts(servicePorts, pod);
            var key = PortsKey(ports);
            if (!groups.TryGetValue(key, out var group))
            {
                group = (ports, []);
                groups[key] = group;
            }

            group.Endpoints.Add(ToEndpoint(pod, ip, publishNotReady));
        }

        if (groups.Count == 0)
        {
            groups[PortsKey([])] = ([], []);
        }

        return [.. groups.Select(g => ToSlice(service, g.Key, g.Value.Ports, g.Value.Endpoints))];
    }

    public static bool Selects(IReadOnlyDictionary<string, string> selector, Pod pod)
    {
        var labels = pod.Metadata.Labels;
        return labels is not null && selector.All(s => labels.TryGetValue(s.Key, out var value) && value == s.Value);
    }

    private static string? PodIp(Pod pod)
        => string.IsNullOrEmpty(pod.Status?.PodIP) ? null : pod.Status.PodIP;

    private static List<EndpointPort> ResolvePorts(IReadOnlyList<ServicePort> servicePorts, Pod pod)
    {
        var result = new List<EndpointPort>();
        foreach (var servicePort in servicePorts)
        {
            var protocol = servicePort.Protocol ?? "TCP";
            int? number = servicePort.TargetPort switch
            {
                null => servicePort.Port,
                { IsInt: true } target => target.IntValue,
                { } named => FindContainerPort(pod, named.StringValue!, protocol),
            };
            if (number is { } port)
            {
                result.Add(new EndpointPort { Name = servicePort.Name ?? string.Empty, Protocol = protocol, Port = port, AppProtocol = servicePort.AppProtocol });
            }
        }

        return result;
    }

    private static int? FindContainerPort(Pod pod, string name, string protocol)
    {
        foreach (var container in pod.Spec?.Containers ?? [])
        {
            foreach (var port in container.Ports ?? [])
            {
                if (port.Name == name && (port.Protocol ?? "TCP") == protocol)
                {
                    return port.ContainerPort;
                }
            }
        }

        return null;
    }

    private static Endpoint ToEndpoint(Pod pod, string ip, bool publishNotReady)
    {
        var terminating = pod.Metadata.DeletionTimestamp is not null;
        var podReady = pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
        return new Endpoint
        {
            Addresses = [ip],
            Conditions = new EndpointConditions
            {
                // As Kubernetes: ready excludes terminating Pods, serving does not; publishNotReadyAddresses forces ready.
                Ready = publishNotReady || (podReady && !terminating),
                Serving = publishNotReady || podReady,
                Terminating = terminating,
            },
            NodeName = pod.Spec?.NodeName,
            TargetRef = new ObjectReference { Kind = "Pod", Namespace = pod.Metadata.Namespace, Name = pod.Metadata.Name, Uid = pod.Metadata.Uid },
        };
    }

    private static EndpointSlice ToSlice(Service service, string portsKey, List<EndpointPort> ports, List<Endpoint> endpoints)
    {
        var name = service.Metadata.Name!;
        var labels = new Dictionary<string, string>(service.Metadata.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            [ServiceNameLabel] = name,
            [ManagedByLabel] = ManagedByValue,
        };
        return new EndpointSlice
        {
            Metadata = new ObjectMeta
            {
                Name = SliceName(name, portsKey),
                Namespace = service.Metadata.Namespace,
                Labels = labels,
                OwnerReferences =
                [
                    new OwnerReference { ApiVersion = "v1", Kind = "Service", Name = name, Uid = service.Metadata.Uid ?? string.Empty, Controller = true, BlockOwnerDeletion = true },
                ],
            },
            AddressType = "IPv4",
            Endpoints = [.. endpoints.OrderBy(e => e.Addresses[0], StringComparer.Ordinal)],
            Ports = ports.Count == 0 ? null : ports,
        };
    }

    /// <summary>Stable per Service and port set, so a reconcile finds the slice it made before.</summary>
    private static string SliceName(string service, string portsKey)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(portsKey)))[..5];
        var prefix = service.Length > 240 ? service[..240] : service;
        return $"{prefix}-{hash}";
    }

    private static string PortsKey(List<EndpointPort> ports)
        => string.Join(",", ports.Select(p => $"{p.Name}/{p.Protocol}/{p.Port}"));

    /// <summary>Whether two slices carry the same content (what the controller writes), ignoring server-set metadata.</summary>
    public static bool SameContent(EndpointSlice desired, EndpointSlice actual)
    {
        return actual.AddressType == desired.AddressType
            && SameMap(actual.Metadata.Labels, desired.Metadata.Labels)
            && Sequence(actual.Ports, desired.Ports, (a, b) => a.Name == b.Name && a.Protocol == b.Protocol && a.Port == b.Port && a.AppProtocol == b.AppProtocol)
            && Sequence(actual.Endpoints, desired.Endpoints, SameEndpoint)
            && Sequence(actual.Metadata.OwnerReferences, desired.Metadata.OwnerReferences, (a, b) => a.Uid == b.Uid && a.Name == b.Name && a.Kind == b.Kind);
    }

    private static bool SameEndpoint(Endpoint a, Endpoint b)
        => a.Addresses.SequenceEqual(b.Addresses, StringComparer.Ordinal)
            && a.NodeName == b.NodeName
            && a.Conditions?.Ready == b.Conditions?.Ready
            && a.Conditions?.Serving == b.Conditions?.Serving
            && a.Conditions?.Terminating == b.Conditions?.Terminating
            && a.TargetRef?.Uid == b.TargetRef?.Uid
            && a.TargetRef?.Name == b.TargetRef?.Name;

    private static bool Sequence<T>(IReadOnlyList<T>? a, IReadOnlyList<T>? b, Func<T, T, bool> equal)
    {
        a ??= [];
        b ??= [];
        return a.Count == b.Count && a.Zip(b).All(p => equal(p.First, p.Second));
    }

    private static bool SameMap(IReadOnlyDictionary<string, string>? a, IReadOnlyDictionary<string, string>? b)
    {
        a ??= new Dictionary<string, string>();
        b ??= new Dictionary<string, string>();
        return a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);
    }
}
