using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Federation.Mesh.Services;
using Federation.NodeAgent.Datapath;

namespace Federation.NodeAgent.Sync;

/// <summary>The datapath's desired services computed from the merged services, and what could not be programmed.</summary>
internal sealed record DesiredServices(
    ImmutableArray<LbService> Services,
    ImmutableArray<ProgrammedService> Programmed,
    ImmutableDictionary<string, int> Skipped,
    ImmutableDictionary<string, int> SkippedBackends)
{
    /// <summary>Skip reasons (the <c>reason</c> label of the skipped-frontends metric).</summary>
    public const string SkippedIpv6 = SkippedBackendReason.Ipv6;
    public const string SkippedProtocol = "protocol";
    public const string SkippedInvalidAddress = SkippedBackendReason.InvalidAddress;
    public const string SkippedDuplicateFrontend = "duplicate-frontend";

    /// <summary>Backend skip reason: the port is 0 (a remote entry or slice port that names no port).</summary>
    public const string SkippedPortZero = SkippedBackendReason.PortZero;

    /// <summary>
    /// One <see cref="LbService"/> per IPv4 TCP/UDP frontend, with the merge's backends in its order. IPv6 frontends
    /// (the datapath has no v6 programs yet), other protocols and unparsable addresses are skipped and counted by reason;
    /// an IPv6 backend of an IPv4 frontend is left out of the slots. A backend that cannot be programmed (an unparsable or
    /// IPv6 address, port 0, a protocol other than the frontend's) is counted by reason in <see cref="SkippedBackends"/>:
    /// the merge leaves such backends out before it applies affinity and reports them per frontend
    /// (<see cref="MergedFrontend.SkippedBackends"/>); a merged service built elsewhere is checked here again.
    /// </summary>
    public static DesiredServices From(IEnumerable<MergedService> merged)
    {
        ArgumentNullException.ThrowIfNull(merged);
        var services = ImmutableArray.CreateBuilder<LbService>();
        var programmed = ImmutableArray.CreateBuilder<ProgrammedService>();
        var skipped = new Dictionary<string, int>(StringComparer.Ordinal);
        var skippedBackends = new Dictionary<string, int>(StringComparer.Ordinal);
        var seen = new HashSet<LbFrontend>();
        foreach (var service in merged)
        {
            var frontends = ImmutableArray.CreateBuilder<ProgrammedFrontend>();
            foreach (var frontend in service.Frontends)
            {
                if (!IPAddress.TryParse(frontend.Ip, out var vip))
                {
                    Count(skipped, SkippedInvalidAddress);
                    continue;
                }

                if (vip.AddressFamily != AddressFamily.InterNetwork)
                {
                    Count(skipped, SkippedIpv6);
                    continue;
                }

                if (!TryProtocol(frontend.Protocol, out var protocol))
                {
                    Count(skipped, SkippedProtocol);
                    continue;
                }

                var lbFrontend = new LbFrontend(vip, frontend.Port, protocol);
                if (!seen.Add(lbFrontend))
                {
                    Count(skipped, SkippedDuplicateFrontend);
                    continue;
                }

                foreach (var left in frontend.SkippedBackends)
                {
                    Count(skippedBackends, left.Reason);
                }

                var backends = ImmutableArray.CreateBuilder<LbBackend>();
                var shown = ImmutableArray.CreateBuilder<ProgrammedBackend>();
                foreach (var backend in frontend.Backends)
                {
                    if (BackendProblem(backend, protocol, out var address) is { } problem)
                    {
                        Count(skippedBackends, problem);
                        continue;
                    }

                    backends.Add(new LbBackend(address, backend.Port, protocol, (ushort)backend.ClusterId));
                    shown.Add(new ProgrammedBackend(backend.Ip, backend.Port, backend.Cluster, backend.ClusterId, backend.State.ToString()));
                }

                services.Add(new LbService(lbFrontend, backends.ToImmutable()));
                frontends.Add(new ProgrammedFrontend(lbFrontend.ToString(), shown.ToImmutable()));
            }

            if (frontends.Count > 0)
            {
                programmed.Add(new ProgrammedService(service.Namespace, service.Name, frontends.ToImmutable()));
            }
        }

        return new DesiredServices(
            services.ToImmutable(),
            programmed.ToImmutable(),
            skipped.ToImmutableDictionary(StringComparer.Ordinal),
            skippedBackends.ToImmutableDictionary(StringComparer.Ordinal));
    }

    private static string? BackendProblem(MergedBackend backend, LbProtocol protocol, out IPAddress address)
    {
        if (!IPAddress.TryParse(backend.Ip, out address!))
        {
            return SkippedInvalidAddress;
        }

        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            return SkippedIpv6;
        }

        if (backend.Port == 0)
        {
            return SkippedPortZero;
        }

        return TryProtocol(backend.Protocol, out var backendProtocol) && backendProtocol == protocol ? null : SkippedProtocol;
    }

    private static bool TryProtocol(string protocol, out LbProtocol result)
    {
        result = protocol.ToUpperInvariant() switch
        {
            "TCP" => LbProtocol.Tcp,
            "UDP" => LbProtocol.Udp,
            _ => 0,
        };
        return result != 0;
    }

    private static void Count(Dictionary<string, int> skipped, string reason)
        => skipped[reason] = skipped.GetValueOrDefault(reason) + 1;
}
