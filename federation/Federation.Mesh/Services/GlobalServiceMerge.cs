using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Federation.Etcd.ClusterMesh;

namespace Federation.Mesh.Services;

/// <summary>
/// Merges the local Service with the remote clusters' parts of the same global service (DESIGN.md §4).
/// A pure function: the same inputs give an equal <see cref="MergedService"/>.
/// </summary>
public static class GlobalServiceMerge
{
    /// <summary>
    /// Selects, for each frontend of <paramref name="local"/>, the backends the datapath uses:
    /// <list type="bullet">
    /// <item>remote backends only when the local Service is global and the remote one is global (<c>includeExternal</c>) and shared;
    /// they match a frontend by port name and protocol, and are active (the exporter only exports ready ones);</item>
    /// <item>affinity <see cref="ServiceAffinity.Local"/>: local active backends, the remote active ones only while there is none
    /// (<see cref="ServiceAffinity.Remote"/> the mirror image; <see cref="ServiceAffinity.None"/>: all active ones);</item>
    /// <item>terminating backends only when no backend at all is active; not-ready ones never;</item>
    /// <item>a backend no datapath can use (an unparsable address, another address family than the frontend's, port 0) is
    /// left out before affinity is applied, so it never counts as active: affinity local whose local backends are all
    /// unusable fails over to the remote ones. It is reported in <see cref="MergedFrontend.SkippedBackends"/> with its reason;</item>
    /// <item>order: the local cluster first, then by cluster ID, IP (ordinal) and port.</item>
    /// </list>
    /// Without a local Service there is no frontend and the result is empty. A remote entry named like the
    /// local cluster is ignored (the local part comes from Kubernetes, not from etcd).
    /// </summary>
    /// <param name="local">The local cluster's Service, or null when the local cluster has none.</param>
    /// <param name="remotes">Remote cluster name → that cluster's part of this service.</param>
    /// <param name="localClusterId">The local cluster's ID, carried by the local backends.</param>
    /// <param name="localClusterName">The local cluster's name, carried by the local backends.</param>
    public static MergedService Compute(
        LocalService? local, IReadOnlyDictionary<string, ClusterService> remotes, uint localClusterId, string localClusterName = "")
    {
        ArgumentNullException.ThrowIfNull(remotes);
        ArgumentNullException.ThrowIfNull(localClusterName);
        if (local is null)
        {
            var named = remotes.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => r.Value).FirstOrDefault();
            return new MergedService { Namespace = named?.Namespace ?? string.Empty, Name = named?.Name ?? string.Empty };
        }

        var contributing = local.Global
            ? remotes
                .Where(r => r.Value.IncludeExternal && r.Value.Shared && !string.Equals(r.Key, localClusterName, StringComparison.Ordinal))
                .OrderBy(r => r.Value.ClusterId)
                .ThenBy(r => r.Key, StringComparer.Ordinal)
                .ToArray()
            : [];

        var frontends = local.Frontends
            .Distinct()
            .OrderBy(f => f.Ip, StringComparer.Ordinal)
            .ThenBy(f => f.Port)
            .ThenBy(f => f.Protocol, StringComparer.Ordinal)
            .ThenBy(f => f.PortName, StringComparer.Ordinal)
            .Select(f => new MergedFrontend
            {
                Ip = f.Ip,
                Port = f.Port,
                Protocol = f.Protocol,
                PortName = f.PortName,
                Backends = Select(f, local, contributing, localClusterId, localClusterName, out var skipped),
                SkippedBackends = skipped,
            })
            .ToImmutableArray();

        return new MergedService
        {
            Namespace = local.Namespace,
            Name = local.Name,
            Frontends = frontends,
            Duplicates = FindDuplicates(local, contributing, localClusterName),
        };
    }

    private static ImmutableArray<MergedBackend> Select(
        LocalFrontend frontend,
        LocalService local,
        KeyValuePair<string, ClusterService>[] remotes,
        uint localClusterId,
        string localClusterName,
        out ImmutableArray<SkippedBackend> skipped)
    {
        var family = IPAddress.TryParse(frontend.Ip, out var vip) ? vip.AddressFamily : (AddressFamily?)null;
        var unusable = new List<SkippedBackend>();
        var localActive = new List<MergedBackend>();
        var localTerminating = new List<MergedBackend>();
        foreach (var backend in local.Backends)
        {
            if (backend.State == BackendState.NotReady || !Matches(backend.Ports, frontend, out var port))
            {
                continue;
            }

            if (Unusable(backend.Ip, port, family) is { } reason)
            {
                unusable.Add(new SkippedBackend(backend.Ip, port, localClusterName, reason));
                continue;
            }

            var selected = new MergedBackend(backend.Ip, port, frontend.Protocol, localClusterId, localClusterName, backend.State);
            (backend.State == BackendState.Active ? localActive : localTerminating).Add(selected);
        }

        var remoteActive = new List<MergedBackend>();
        foreach (var (cluster, service) in remotes)
        {
            foreach (var (ip, ports) in service.Backends ?? ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty)
            {
                if (ports is null || !Matches(ports, frontend, out var port))
                {
                    continue;
                }

                if (Unusable(ip, port, family) is { } reason)
                {
                    unusable.Add(new SkippedBackend(ip, port, cluster, reason));
                    continue;
                }

                remoteActive.Add(new MergedBackend(ip, port, frontend.Protocol, service.ClusterId, cluster, BackendState.Active));
            }
        }

        skipped =
        [
            .. unusable
                .Distinct()
                .OrderBy(b => b.Cluster, StringComparer.Ordinal)
                .ThenBy(b => b.Ip, StringComparer.Ordinal)
                .ThenBy(b => b.Port),
        ];

        IEnumerable<MergedBackend> chosen = local.Affinity switch
        {
            ServiceAffinity.Local => localActive.Count > 0 ? localActive : remoteActive,
            ServiceAffinity.Remote => remoteActive.Count > 0 ? remoteActive : localActive,
            _ => localActive.Concat(remoteActive),
        };

        var result = chosen.ToList();
        if (result.Count == 0)
        {
            // Serving-but-terminating endpoints beat dropping the connection, but only as the very last resort.
            result = localTerminating;
        }

        return
        [
            .. result
                .Distinct()
                .OrderBy(b => b.ClusterId == localClusterId && b.Cluster == localClusterName ? 0 : 1)
                .ThenBy(b => b.ClusterId)
                .ThenBy(b => b.Ip, StringComparer.Ordinal)
                .ThenBy(b => b.Port)
                .ThenBy(b => b.Cluster, StringComparer.Ordinal),
        ];
    }

    /// <summary>Why no datapath can send this frontend's connections to <paramref name="ip"/>:<paramref name="port"/>; null when it can.</summary>
    private static string? Unusable(string ip, ushort port, AddressFamily? frontendFamily)
    {
        if (!IPAddress.TryParse(ip, out var address))
        {
            return SkippedBackendReason.InvalidAddress;
        }

        if (frontendFamily is { } family && address.AddressFamily != family)
        {
            return address.AddressFamily == AddressFamily.InterNetworkV6 ? SkippedBackendReason.Ipv6 : SkippedBackendReason.Ipv4;
        }

        return port == 0 ? SkippedBackendReason.PortZero : null;
    }

    private static bool Matches(IReadOnlyDictionary<string, L4Addr> ports, LocalFrontend frontend, out ushort port)
    {
        if (ports.TryGetValue(frontend.PortName, out var address)
            && address is not null
            && string.Equals(address.Protocol, frontend.Protocol, StringComparison.OrdinalIgnoreCase))
        {
            port = address.Port;
            return true;
        }

        port = 0;
        return false;
    }

    private static ImmutableArray<DuplicateBackend> FindDuplicates(
        LocalService local, KeyValuePair<string, ClusterService>[] remotes, string localClusterName)
    {
        var owners = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        void Add(string ip, string cluster)
        {
            if (!owners.TryGetValue(ip, out var clusters))
            {
                owners[ip] = clusters = new SortedSet<string>(StringComparer.Ordinal);
            }

            clusters.Add(cluster);
        }

        foreach (var backend in local.Backends)
        {
            Add(backend.Ip, localClusterName);
        }

        foreach (var (cluster, service) in remotes)
        {
            foreach (var ip in service.Backends?.Keys ?? [])
            {
                Add(ip, cluster);
            }
        }

        return
        [
            .. owners
                .Where(o => o.Value.Count > 1)
                .OrderBy(o => o.Key, StringComparer.Ordinal)
                .Select(o => new DuplicateBackend { Ip = o.Key, Clusters = [.. o.Value] }),
        ];
    }
}
