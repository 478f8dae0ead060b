using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Federation.NodeAgent.Tunnels;

/// <summary>The instruments of meter "Federation.NodeAgent.Tunnels". Gauges read the last status of every running
/// <see cref="WireGuardPeerReconciler"/> (refreshed by <see cref="WireGuardPeerReconciler.RefreshStatusAsync"/>).</summary>
internal static class WireGuardMetrics
{
    public const string MeterName = "Federation.NodeAgent.Tunnels";

    private static readonly Meter Meter = new(MeterName);
    private static readonly ConcurrentDictionary<WireGuardPeerReconciler, byte> Reconcilers = new();

    internal static readonly Counter<long> InvalidNodes = Meter.CreateCounter<long>(
        "federation_wireguard_invalid_nodes_total",
        description: "Remote node records skipped because they cannot become a WireGuard peer, by reason (key, endpoint, cidr, duplicate-key, own-key).");

    internal static readonly Counter<long> Failures = Meter.CreateCounter<long>(
        "federation_wireguard_reconcile_failures_total",
        description: "Peer or route changes that failed to apply (a wg or ip command failed).");

    static WireGuardMetrics()
    {
        Meter.CreateObservableGauge(
            "federation_wireguard_peers",
            () => Snapshot()
                .SelectMany(s => Enum.GetValues<WireGuardPeerState>().Select(state => new Measurement<int>(
                    s.Peers.Count(p => p.State == state), Tag("interface", s.InterfaceName), Tag("state", StateName(state)))))
                .ToList(),
            description: "WireGuard peers per state: handshaken (session within the last 180 s), pending (never), expired (older).");
        Meter.CreateObservableCounter(
            "federation_wireguard_peer_receive_bytes_total",
            () => Snapshot().SelectMany(s => s.Peers.Select(p => new Measurement<long>(p.ReceivedBytes, PeerTags(s, p)))).ToList(),
            unit: "By",
            description: "Bytes received from each WireGuard peer.");
        Meter.CreateObservableCounter(
            "federation_wireguard_peer_transmit_bytes_total",
            () => Snapshot().SelectMany(s => s.Peers.Select(p => new Measurement<long>(p.TransmittedBytes, PeerTags(s, p)))).ToList(),
            unit: "By",
            description: "Bytes sent to each WireGuard peer.");
    }

    public static string StateName(WireGuardPeerState state) => state switch
    {
        WireGuardPeerState.Handshaken => "handshaken",
        WireGuardPeerState.Pending => "pending",
        _ => "expired",
    };

    internal static void Register(WireGuardPeerReconciler reconciler) => Reconcilers.TryAdd(reconciler, 0);

    internal static void Unregister(WireGuardPeerReconciler reconciler) => Reconcilers.TryRemove(reconciler, out _);

    private static IEnumerable<WireGuardStatus> Snapshot() => Reconcilers.Keys.Select(r => r.LastStatus).OfType<WireGuardStatus>();

    private static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);

    private static KeyValuePair<string, object?>[] PeerTags(WireGuardStatus status, WireGuardPeerStatus peer) =>
        [Tag("interface", status.InterfaceName), Tag("cluster", peer.Cluster ?? ""), Tag("node", peer.Node ?? ""), Tag("public_key", peer.PublicKey)];
}
