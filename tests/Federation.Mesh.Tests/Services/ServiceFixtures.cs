using System.Collections.Immutable;
using Federation.Etcd.ClusterMesh;
using Federation.Mesh.Services;

namespace Federation.Mesh.Tests.Services;

/// <summary>Short builders for local Services, remote ClusterServices and readable backend lists.</summary>
internal static class ServiceFixtures
{
    public const string Namespace = "shop";
    public const string Name = "cart";

    public static LocalFrontend Frontend(string ip, ushort port, string portName = "http", string protocol = "TCP") =>
        new(ip, portName, protocol, port);

    public static LocalBackend Backend(string ip, BackendState state, params (string Name, string Protocol, ushort Port)[] ports) =>
        new()
        {
            Ip = ip,
            State = state,
            Ports = ports.ToImmutableDictionary(p => p.Name, p => new L4Addr { Protocol = p.Protocol, Port = p.Port }),
        };

    public static LocalBackend HttpBackend(string ip, BackendState state = BackendState.Active) => Backend(ip, state, ("http", "TCP", 8080));

    public static LocalService Local(
        bool global = true,
        ServiceAffinity affinity = ServiceAffinity.None,
        IEnumerable<LocalBackend>? backends = null,
        IEnumerable<LocalFrontend>? frontends = null,
        string name = Name) =>
        new()
        {
            Namespace = Namespace,
            Name = name,
            Global = global,
            Affinity = affinity,
            Frontends = [.. frontends ?? [Frontend("10.96.0.10", 80)]],
            Backends = [.. backends ?? []],
        };

    public static ClusterService RemoteService(
        string cluster,
        uint clusterId,
        bool global = true,
        bool shared = true,
        IEnumerable<(string Ip, (string Name, string Protocol, ushort Port)[] Ports)>? backends = null,
        string name = Name,
        ImmutableDictionary<string, string>? labels = null) =>
        new()
        {
            Cluster = cluster,
            ClusterId = clusterId,
            Namespace = Namespace,
            Name = name,
            IncludeExternal = global,
            Shared = shared,
            Labels = labels ?? ImmutableDictionary<string, string>.Empty,
            Selector = ImmutableDictionary<string, string>.Empty,
            Frontends = ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty,
            Backends = (backends ?? []).ToImmutableDictionary(
                b => b.Ip,
                b => b.Ports.ToImmutableDictionary(p => p.Name, p => new L4Addr { Protocol = p.Protocol, Port = p.Port })),
        };

    public static ClusterService HttpRemote(string cluster, uint clusterId, params string[] ips) =>
        RemoteService(cluster, clusterId, backends: ips.Select(ip => (ip, new[] { ("http", "TCP", (ushort)8080) })));

    public static ImmutableDictionary<string, ClusterService> Remotes(params ClusterService[] services) =>
        services.ToImmutableDictionary(s => s.Cluster);

    /// <summary>"cluster/ip:port" per backend, space-separated, in slot order.</summary>
    public static string Describe(MergedFrontend frontend) =>
        string.Join(" ", frontend.Backends.Select(b => $"{b.Cluster}/{b.Ip}:{b.Port}"));

    /// <summary>As <see cref="Describe(MergedFrontend)"/>, for the single frontend of <paramref name="merged"/>.</summary>
    public static string Describe(MergedService merged) => Describe(Assert.Single(merged.Frontends));
}
