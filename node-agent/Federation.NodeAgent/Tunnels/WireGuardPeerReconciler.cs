using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Federation.NodeAgent.Processes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.NodeAgent.Tunnels;

/// <summary>How the peer reconciler programs peers and routes.</summary>
internal sealed class WireGuardPeerReconcilerOptions
{
    /// <summary>The remote nodes' WireGuard port (every node listens on the same one).</summary>
    public int PeerPort { get; set; } = WireGuardDeviceOptions.DefaultListenPort;

    /// <summary>Keepalive interval in seconds, 0 for none. Setting it also makes a new peer handshake at once,
    /// before any traffic.</summary>
    public int PersistentKeepaliveSeconds { get; set; } = 25;

    /// <summary>Source address of the routes to remote IPv4 pod CIDRs (this node's pod-side address), so the remote
    /// side sees a source its AllowedIPs accept; null lets the kernel choose.</summary>
    public string? RouteSourceIPv4 { get; set; }

    /// <summary>The IPv6 twin of <see cref="RouteSourceIPv4"/>.</summary>
    public string? RouteSourceIPv6 { get; set; }
}

/// <summary>What one upsert or delete did.</summary>
internal enum PeerChange
{
    Added,
    Updated,

    /// <summary>Same node, new public key: the new peer took over the AllowedIPs, then the old one was removed.</summary>
    Rotated,
    Unchanged,
    Removed,

    /// <summary>Invalid input: logged and counted in <c>federation_wireguard_invalid_nodes_total</c>.</summary>
    Skipped,
    NotFound,
}

/// <summary>Whether a peer has a live session.</summary>
internal enum WireGuardPeerState
{
    Handshaken,
    Pending,
    Expired,
}

internal sealed record WireGuardPeerStatus(
    string? Cluster, string? Node, string PublicKey, string? Endpoint, ImmutableArray<string> AllowedIps,
    DateTimeOffset? LatestHandshake, long ReceivedBytes, long TransmittedBytes, WireGuardPeerState State);

internal sealed record WireGuardStatus(string InterfaceName, int ListenPort, bool Synced, ImmutableArray<WireGuardPeerStatus> Peers);

/// <summary>
/// Keeps one WireGuard peer per remote node (endpoint = node IP:port, AllowedIPs = its pod CIDRs) and a route per
/// pod CIDR through the interface, incrementally. Peers and routes found at start that no node claims stay until
/// <see cref="MarkSyncedAsync"/> (the remote data is complete), so a restart never cuts traffic.
/// Bad records are skipped, logged and counted, never thrown; failed commands throw <see cref="ProcessFailedException"/>.
/// </summary>
internal sealed partial class WireGuardPeerReconciler : IDisposable
{
    /// <summary>WireGuard's Reject-After-Time: a session older than this carries no traffic.</summary>
    private static readonly TimeSpan SessionLifetime = TimeSpan.FromSeconds(180);

    private readonly WireGuardDevice _device;
    private readonly WireGuardPeerReconcilerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly Dictionary<NodeId, TunnelPeer> _applied = [];
    private readonly Dictionary<string, NodeId> _byKey = new(StringComparer.Ordinal);
    private readonly HashSet<string> _adoptedPeers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _adoptedRoutes = new(StringComparer.Ordinal);

    public WireGuardPeerReconciler(
        WireGuardDevice device, WireGuardPeerReconcilerOptions? options = null, ILogger<WireGuardPeerReconciler>? logger = null, TimeProvider? timeProvider = null)
    {
        _device = device;
        _options = options ?? new WireGuardPeerReconcilerOptions();
        _logger = logger ?? NullLogger<WireGuardPeerReconciler>.Instance;
        _time = timeProvider ?? TimeProvider.System;
        WireGuardMetrics.Register(this);
    }

    /// <summary>True once <see cref="MarkSyncedAsync"/> ran.</summary>
    public bool Synced { get; private set; }

    /// <summary>The status of the last <see cref="RefreshStatusAsync"/> (what the gauges report).</summary>
    public WireGuardStatus? LastStatus { get; private set; }

    /// <summary>The peers the reconciler has programmed, by node.</summary>
    public IReadOnlyDictionary<NodeId, TunnelPeer> Peers
    {
        get
        {
            lock (_applied)
            {
                return _applied.ToImmutableDictionary();
            }
        }
    }

    /// <summary>Reads the peers and routes the interface already has (a previous run's): they are kept until synced.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var dump = await _device.DumpAsync(cancellationToken).ConfigureAwait(false);
            _adoptedPeers.UnionWith(dump.Peers.Select(p => p.PublicKey));
            _adoptedRoutes.UnionWith(await RoutesAsync(cancellationToken).ConfigureAwait(false));
            Log.Adopted(_logger, _device.InterfaceName, _adoptedPeers.Count, _adoptedRoutes.Count);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Adds or updates the peer and routes of one remote node.</summary>
    public async Task<PeerChange> UpsertAsync(RemoteNodeTunnel node, CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var id = new NodeId(node.Cluster, node.Node);
            var (peer, reason, detail) = node.Validate(_options.PeerPort);
            if (peer is not null && _device.Status?.PublicKey == peer.PublicKey)
            {
                (peer, reason, detail) = (null, "own-key", "the public key is this node's own");
            }
            else if (peer is not null && _byKey.TryGetValue(peer.PublicKey, out var holder) && holder != id)
            {
                (peer, reason, detail) = (null, "duplicate-key", $"the public key is already used by {holder}");
            }

            if (peer is null)
            {
                WireGuardMetrics.InvalidNodes.Add(1, new KeyValuePair<string, object?>("reason", reason));
                Log.Skipped(_logger, _device.InterfaceName, id.ToString(), reason!, detail!);

                // A node whose new record is unusable has no tunnel any more: stale state would route its pod CIDRs to an old key.
                if (_applied.ContainsKey(id))
                {
                    await RemoveAsync(id, cancellationToken).ConfigureAwait(false);
                }

                return PeerChange.Skipped;
            }

            _applied.TryGetValue(id, out var old);
            if (peer.Equals(old))
            {
                return PeerChange.Unchanged;
            }

            // One `wg set` transaction (its allowed-ips replaces the peer's list): the new peer (taking the AllowedIPs, WireGuard moves them to the newest peer),
            // then the old key's removal. Traffic to the pod CIDRs never meets a gap.
            List<string> args = ["set", _device.InterfaceName, "peer", peer.PublicKey, "endpoint", peer.Endpoint,
                "persistent-keepalive", _options.PersistentKeepaliveSeconds == 0 ? "off" : _options.PersistentKeepaliveSeconds.ToString(CultureInfo.InvariantCulture),
                "allowed-ips", string.Join(',', peer.AllowedIps)];
            var rotated = old is not null && old.PublicKey != peer.PublicKey;
            if (rotated)
            {
                args.AddRange(["peer", old!.PublicKey, "remove"]);
            }

            await _device.RunWgAsync(args, cancellationToken).ConfigureAwait(false);
            _adoptedPeers.Remove(peer.PublicKey);
            lock (_applied)
            {
                if (rotated)
                {
                    _byKey.Remove(old!.PublicKey);
                }

                _applied[id] = peer;
                _byKey[peer.PublicKey] = id;
            }

            foreach (var cidr in peer.AllowedIps)
            {
                await ReplaceRouteAsync(cidr, cancellationToken).ConfigureAwait(false);
            }

            foreach (var cidr in (old?.AllowedIps ?? []).Except(peer.AllowedIps))
            {
                await DeleteRouteUnlessClaimedAsync(cidr, cancellationToken).ConfigureAwait(false);
            }

            var change = old is null ? PeerChange.Added : rotated ? PeerChange.Rotated : PeerChange.Updated;
            Log.Applied(_logger, _device.InterfaceName, id.ToString(), change.ToString(), peer.PublicKey, peer.Endpoint, string.Join(',', peer.AllowedIps));
            return change;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Removes the peer and routes of one remote node.</summary>
    public async Task<PeerChange> DeleteAsync(string cluster, string node, CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var id = new NodeId(cluster, node);
            if (!_applied.ContainsKey(id))
            {
                return PeerChange.NotFound;
            }

            await RemoveAsync(id, cancellationToken).ConfigureAwait(false);
            return PeerChange.Removed;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Removes every node of <paramref name="cluster"/> (the cluster left the mesh).</summary>
    public async Task RemoveClusterAsync(string cluster, CancellationToken cancellationToken = default)
    {
        List<NodeId> nodes;
        lock (_applied)
        {
            nodes = [.. _applied.Keys.Where(k => k.Cluster == cluster)];
        }

        foreach (var id in nodes)
        {
            await DeleteAsync(id.Cluster, id.Node, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The remote data is complete: removes the peers and routes found at start that no known node claims.
    /// Returns how many peers and routes were removed.
    /// </summary>
    public async Task<int> MarkSyncedAsync(CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var removed = 0;
            var stalePeers = _adoptedPeers.Where(k => !_byKey.ContainsKey(k)).ToList();
            if (stalePeers.Count > 0)
            {
                await _device.RunWgAsync(["set", _device.InterfaceName, .. stalePeers.SelectMany(k => new[] { "peer", k, "remove" })], cancellationToken).ConfigureAwait(false);
                removed += stalePeers.Count;
            }

            var claimed = _applied.Values.SelectMany(p => p.AllowedIps).ToHashSet(StringComparer.Ordinal);
            foreach (var cidr in _adoptedRoutes.Where(c => !claimed.Contains(c)).ToList())
            {
                await DeleteRouteUnlessClaimedAsync(cidr, cancellationToken).ConfigureAwait(false);
                removed++;
            }

            _adoptedPeers.Clear();
            _adoptedRoutes.Clear();
            Synced = true;
            Log.Synced(_logger, _device.InterfaceName, _applied.Count, removed);
            return removed;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Reads the interface's peers (last handshake, bytes) and keeps the result for the metrics.</summary>
    public async Task<WireGuardStatus> RefreshStatusAsync(CancellationToken cancellationToken = default)
    {
        var dump = await _device.DumpAsync(cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        Dictionary<string, NodeId> byKey;
        lock (_applied)
        {
            byKey = new Dictionary<string, NodeId>(_byKey, StringComparer.Ordinal);
        }

        var peers = dump.Peers.Select(p =>
        {
            var known = byKey.TryGetValue(p.PublicKey, out var id);
            var state = p.LatestHandshake is not { } handshake ? WireGuardPeerState.Pending
                : now - handshake <= SessionLifetime ? WireGuardPeerState.Handshaken
                : WireGuardPeerState.Expired;
            return new WireGuardPeerStatus(
                known ? id.Cluster : null, known ? id.Node : null, p.PublicKey, p.Endpoint, p.AllowedIps, p.LatestHandshake, p.ReceivedBytes, p.TransmittedBytes, state);
        });
        LastStatus = new WireGuardStatus(_device.InterfaceName, dump.ListenPort, Synced, [.. peers]);
        return LastStatus;
    }

    public void Dispose()
    {
        WireGuardMetrics.Unregister(this);
        _lock.Dispose();
    }

    private async Task RemoveAsync(NodeId id, CancellationToken cancellationToken)
    {
        var peer = _applied[id];
        await _device.RunWgAsync(["set", _device.InterfaceName, "peer", peer.PublicKey, "remove"], cancellationToken).ConfigureAwait(false);
        lock (_applied)
        {
            _applied.Remove(id);
            _byKey.Remove(peer.PublicKey);
        }

        foreach (var cidr in peer.AllowedIps)
        {
            await DeleteRouteUnlessClaimedAsync(cidr, cancellationToken).ConfigureAwait(false);
        }

        Log.Removed(_logger, _device.InterfaceName, id.ToString(), peer.PublicKey);
    }

    private async Task ReplaceRouteAsync(string cidr, CancellationToken cancellationToken)
    {
        _adoptedRoutes.Remove(cidr);
        var source = IPNetwork.Parse(cidr).BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? _options.RouteSourceIPv6 : _options.RouteSourceIPv4;
        await _device.RunIpAsync(["route", "replace", cidr, "dev", _device.InterfaceName, .. source is null ? Array.Empty<string>() : ["src", source]], cancellationToken)
            .ConfigureAwait(false);
    }

    private async Task DeleteRouteUnlessClaimedAsync(string cidr, CancellationToken cancellationToken)
    {
        if (_applied.Values.Any(p => p.AllowedIps.Contains(cidr)))
        {
            return;
        }

        var result = await _device.TryIpAsync(["route", "del", cidr, "dev", _device.InterfaceName], cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded && (await RoutesAsync(cancellationToken).ConfigureAwait(false)).Contains(cidr))
        {
            result.EnsureSuccess();
        }
    }

    /// <summary>The destinations of the routes through the interface (IPv4 and IPv6), as CIDRs.</summary>
    private async Task<HashSet<string>> RoutesAsync(CancellationToken cancellationToken)
    {
        var routes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var family in new[] { "-4", "-6" })
        {
            var result = await _device.RunIpAsync([family, "-j", "route", "show", "dev", _device.InterfaceName], cancellationToken).ConfigureAwait(false);
            if (string.IsNullOrWhiteSpace(result.StandardOutput))
            {
                continue;
            }

            using var document = JsonDocument.Parse(result.StandardOutput);
            foreach (var route in document.RootElement.EnumerateArray())
            {
                if (route.TryGetProperty("protocol", out var protocol) && protocol.GetString() == "kernel")
                {
                    continue;
                }

                var dst = route.GetProperty("dst").GetString()!;
                if (dst == "default")
                {
                    continue;
                }

                routes.Add(dst.Contains('/', StringComparison.Ordinal) ? dst : dst + (family == "-4" ? "/32" : "/128"));
            }
        }

        return routes;
    }
}
