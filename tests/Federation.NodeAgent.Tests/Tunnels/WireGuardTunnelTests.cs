using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Federation.Etcd.ClusterMesh;
using Federation.NodeAgent.Processes;
using Federation.NodeAgent.Tunnels;
using Xunit.Abstractions;

namespace Federation.NodeAgent.Tests.Tunnels;

/// <summary>Real WireGuard (wireguard-go here) between throwaway network namespaces on a lab bridge.</summary>
[Trait("Needs", "root")]
[Trait("Needs", "netns")]
public sealed class WireGuardTunnelTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    /// <summary>Counts IPv4 frames on one interface until stdin closes: WireGuard UDP, ICMP, and frames with a pod (10.x) address.</summary>
    private const string CaptureScript = """
        import json, select, socket, struct, sys
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        s.bind((sys.argv[1], 0))
        counts = {"udp51871": 0, "icmp": 0, "other": 0, "pod_address": 0}
        print("capturing", flush=True)
        while True:
            ready, _, _ = select.select([s, sys.stdin], [], [])
            if sys.stdin in ready:
                break
            frame = s.recv(65535)
            if len(frame) < 34 or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
            ihl = (ip[0] & 15) * 4
            if ip[12] == 10 or ip[16] == 10:
                counts["pod_address"] += 1
            if ip[9] == 17 and 51871 in struct.unpack("!HH", ip[ihl:ihl + 4]):
                counts["udp51871"] += 1
            elif ip[9] == 1:
                counts["icmp"] += 1
            else:
                counts["other"] += 1
        print(json.dumps(counts), flush=True)
        """;

    [Fact]
    public async Task Pods_reach_each_other_through_the_tunnel_and_the_underlay_carries_only_udp_51871()
    {
        using var metrics = new TunnelMetricsProbe();
        await using var lab = await WireGuardLab.CreateAsync();
        var (a, b) = await TwoConnectedNodesAsync(lab);
        Assert.Equal(WireGuardImplementation.Userspace, a.Device.Status!.Implementation);

        var capture = await lab.StartAsync(lab.Underlay, "capturing", "python3", "-c", CaptureScript, a.UnderlayPort);
        await Eventually.TrueAsync(() => a.PingAsync(b.PodIP), Deadline, "A's pod address pings B's through the tunnel");
        for (var i = 0; i < 5; i++)
        {
            Assert.True(await a.PingAsync(b.PodIP), "A → B pod");
            Assert.True(await b.PingAsync(a.PodIP), "B → A pod");
        }

        var counts = JsonDocument.Parse((await capture.StopAsync(TimeSpan.FromSeconds(10))).Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        output.WriteLine($"underlay frames on A's port: {counts}");
        Assert.True(counts.GetProperty("udp51871").GetInt32() >= 20, "the pings cross the underlay as WireGuard UDP 51871");
        Assert.Equal(0, counts.GetProperty("pod_address").GetInt32());
        Assert.Equal(0, counts.GetProperty("icmp").GetInt32());

        // The underlay itself cannot reach the pods: only the tunnel can.
        var underlayRoutes = await ProcessRunnerRoutes(lab.Underlay);
        Assert.DoesNotContain("10.", underlayRoutes, StringComparison.Ordinal);

        var status = await a.Reconciler.RefreshStatusAsync();
        var peer = Assert.Single(status.Peers);
        Assert.Equal((b.Cluster, b.Name), (peer.Cluster, peer.Node));
        Assert.Equal(WireGuardPeerState.Handshaken, peer.State);
        Assert.True(peer.ReceivedBytes > 5 * 84 && peer.TransmittedBytes > 5 * 84, $"rx {peer.ReceivedBytes} tx {peer.TransmittedBytes}");
        Assert.Equal($"{b.UnderlayIP}:51871", peer.Endpoint);
        Assert.Equal([b.PodCidr], peer.AllowedIps.ToArray());
        Assert.Equal((double?)1, metrics.Observed("federation_wireguard_peers", $"interface={a.InterfaceName}", "state=handshaken"));
        Assert.Equal((double?)0, metrics.Observed("federation_wireguard_peers", $"interface={a.InterfaceName}", "state=pending"));
        Assert.Equal((double?)peer.ReceivedBytes, metrics.Observed("federation_wireguard_peer_receive_bytes_total", $"interface={a.InterfaceName}", $"node={b.Name}"));
        Assert.Equal((double?)peer.TransmittedBytes, metrics.Observed("federation_wireguard_peer_transmit_bytes_total", $"interface={a.InterfaceName}", $"node={b.Name}"));
    }

    [Fact]
    public async Task A_node_added_in_the_remote_cluster_gets_a_peer_and_route_and_loses_them_when_removed()
    {
        await using var lab = await WireGuardLab.CreateAsync();
        var (a, b) = await TwoConnectedNodesAsync(lab);
        var c = await lab.AddNodeAsync("c", "cluster2", 3, "10.102.2.0/24", "10.102.2.1");
        await c.Reconciler.UpsertAsync(a.AsRemote());

        // A learns about C the way the agent does: a node record from the remote cluster, through the observer.
        var observer = new WireGuardNodeObserver(a.Reconciler);
        using var cts = new CancellationTokenSource();
        var loop = observer.RunAsync(cts.Token);
        var key = $"cilium/state/nodes/v1/cluster2/{c.Name}";
        observer.OnUpsert("cluster2", ClusterMeshKind.Nodes, key, default, NodeRecord(c));

        await Eventually.TrueAsync(async () => (await a.RoutesThroughTunnelAsync()).Contains(c.PodCidr), Deadline, "A routes C's pod CIDR through the tunnel");
        Assert.Contains((await a.Device.DumpAsync()).Peers, p => p.PublicKey == c.Keys.PublicKey && p.AllowedIps.SequenceEqual(new[] { c.PodCidr }));
        await Eventually.TrueAsync(() => a.PingAsync(c.PodIP), Deadline, "A pings C's pod");
        Assert.True(await a.PingAsync(b.PodIP), "B is still reachable");

        observer.OnDelete("cluster2", ClusterMeshKind.Nodes, key);
        await Eventually.TrueAsync(async () => !(await a.RoutesThroughTunnelAsync()).Contains(c.PodCidr), Deadline, "C's route is gone");
        Assert.DoesNotContain((await a.Device.DumpAsync()).Peers, p => p.PublicKey == c.Keys.PublicKey);
        Assert.False(await a.PingAsync(c.PodIP), "C's pod is unreachable without its peer");
        Assert.True(await a.PingAsync(b.PodIP), "B is still reachable");

        observer.Complete();
        await loop;
    }

    [Fact]
    public async Task Remote_key_rotation_replaces_the_peer_and_traffic_recovers_within_5_seconds()
    {
        await using var lab = await WireGuardLab.CreateAsync();
        var (a, b) = await TwoConnectedNodesAsync(lab);
        await Eventually.TrueAsync(() => a.PingAsync(b.PodIP), Deadline, "tunnel up");
        var oldKey = b.Keys.PublicKey;

        var watch = Stopwatch.StartNew();
        await b.RotateKeyAsync();
        Assert.Equal(PeerChange.Rotated, await a.Reconciler.UpsertAsync(b.AsRemote()));

        // The pod CIDR never lost its route: it moved to the new peer in the same transaction.
        Assert.Contains(b.PodCidr, await a.RoutesThroughTunnelAsync());
        var peer = Assert.Single((await a.Device.DumpAsync()).Peers);
        Assert.Equal(b.Keys.PublicKey, peer.PublicKey);
        Assert.NotEqual(oldKey, peer.PublicKey);
        Assert.Equal([b.PodCidr], peer.AllowedIps.ToArray());

        await Eventually.TrueAsync(() => a.PingAsync(b.PodIP), TimeSpan.FromSeconds(5), "A reaches B's pod within 5 s of B's new key");
        output.WriteLine($"traffic recovered {watch.ElapsedMilliseconds} ms after the rotation");
        Assert.True(await b.PingAsync(a.PodIP), "B → A after the rotation");
    }

    [Fact]
    public async Task Datagrams_of_1400_bytes_and_a_1_MiB_tcp_transfer_cross_the_tunnel()
    {
        await using var lab = await WireGuardLab.CreateAsync();
        var (a, b) = await TwoConnectedNodesAsync(lab);
        Assert.Equal(1500 - 80, a.Device.Status!.Mtu);
        Assert.Contains("mtu 1420", (await a.RunAsync("ip", "link", "show", "dev", a.InterfaceName)).StandardOutput, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => a.PingAsync(b.PodIP), Deadline, "tunnel up");

        const string echoServer = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((sys.argv[1], 9000))
            print("listening", flush=True)
            while True:
                data, peer = s.recvfrom(65535)
                s.sendto(data, peer)
            """;
        const string echoClient = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((sys.argv[1], 0))
            s.settimeout(2)
            ok = 0
            for i in range(20):
                payload = bytes([i]) * 1400
                s.sendto(payload, (sys.argv[2], 9000))
                data, _ = s.recvfrom(65535)
                ok += data == payload
            print(ok)
            """;
        await lab.StartAsync(b.Netns, "listening", "python3", "-c", echoServer, b.PodIP);
        var udp = await a.RunAsync("python3", "-c", echoClient, a.PodIP, b.PodIP);
        Assert.True(udp.Succeeded, udp.StandardError);
        Assert.Equal("20", udp.StandardOutput.Trim());

        // 1 MiB over TCP, counted by the receiver: iperf3 -n reports what the server had read when the sender finished,
        // not everything that arrived, so the count comes from a sink that reads to the end.
        const string tcpSink = """
            import socket, sys
            s = socket.socket()
            s.bind((sys.argv[1], 9001))
            s.listen(1)
            print("listening", flush=True)
            c, _ = s.accept()
            total = 0
            while True:
                data = c.recv(65536)
                if not data:
                    break
                total += len(data)
            c.sendall(str(total).encode())
            c.close()
            """;
        const string tcpSource = """
            import socket, sys
            c = socket.create_connection((sys.argv[2], 9001), timeout=30, source_address=(sys.argv[1], 0))
            c.sendall(bytes(range(256)) * 4096)
            c.shutdown(socket.SHUT_WR)
            print(c.recv(64).decode())
            """;
        await lab.StartAsync(b.Netns, "listening", "python3", "-c", tcpSink, b.PodIP);
        var watch = Stopwatch.StartNew();
        var tcp = await a.RunAsync("python3", "-c", tcpSource, a.PodIP, b.PodIP);
        Assert.True(tcp.Succeeded, tcp.StandardError);
        output.WriteLine($"1 MiB over TCP through the tunnel in {watch.ElapsedMilliseconds} ms; the receiver counted {tcp.StandardOutput.Trim()} bytes");
        Assert.Equal((1 << 20).ToString(CultureInfo.InvariantCulture), tcp.StandardOutput.Trim());
    }

    [Fact]
    public async Task Malformed_keys_endpoints_and_cidrs_are_skipped_and_counted_and_good_nodes_still_work()
    {
        using var metrics = new TunnelMetricsProbe();
        await using var lab = await WireGuardLab.CreateAsync();
        var (a, b) = await TwoConnectedNodesAsync(lab);
        var good = b.AsRemote();

        Assert.Equal(PeerChange.Skipped, await a.Reconciler.UpsertAsync(good with { Node = "bad-key", PublicKey = "not-a-key" }));
        Assert.Equal(PeerChange.Skipped, await a.Reconciler.UpsertAsync(good with { Node = "short-key", PublicKey = Convert.ToBase64String(new byte[16]) }));
        Assert.Equal(PeerChange.Skipped, await a.Reconciler.UpsertAsync(good with { Node = "bad-cidr", PublicKey = Key(1), PodCidrs = ["10.200.0.0/33"] }));
        Assert.Equal(PeerChange.Skipped, await a.Reconciler.UpsertAsync(good with { Node = "host-bits", PublicKey = Key(2), PodCidrs = ["10.200.0.1/24"] }));
        Assert.Equal(PeerChange.Skipped, await a.Reconciler.UpsertAsync(good with { Node = "bad-endpoint", PublicKey = Key(3), EndpointIP = "192.168.77" }));
        Assert.Equal(PeerChange.Skipped, await a.Reconciler.UpsertAsync(good with { Node = "same-key" }));
        Assert.Equal(PeerChange.Skipped, await a.Reconciler.UpsertAsync(a.AsRemote() with { Node = "myself", Cluster = "cluster9" }));

        Assert.Equal(2, metrics.Counter("federation_wireguard_invalid_nodes_total", "reason=key,"));
        Assert.Equal(2, metrics.Counter("federation_wireguard_invalid_nodes_total", "reason=cidr,"));
        Assert.Equal(1, metrics.Counter("federation_wireguard_invalid_nodes_total", "reason=endpoint,"));
        Assert.Equal(1, metrics.Counter("federation_wireguard_invalid_nodes_total", "reason=duplicate-key,"));
        Assert.Equal(1, metrics.Counter("federation_wireguard_invalid_nodes_total", "reason=own-key,"));

        var dump = await a.Device.DumpAsync();
        Assert.Equal([b.Keys.PublicKey], dump.Peers.Select(p => p.PublicKey));
        Assert.Equal([b.PodCidr], await a.RoutesThroughTunnelAsync());
        await Eventually.TrueAsync(() => a.PingAsync(b.PodIP), Deadline, "the good node still works");

        // A node whose update turns bad loses its tunnel rather than keeping stale state.
        Assert.Equal(PeerChange.Skipped, await a.Reconciler.UpsertAsync(good with { PodCidrs = ["bogus"] }));
        Assert.Empty((await a.Device.DumpAsync()).Peers);
        Assert.Empty(await a.RoutesThroughTunnelAsync());
    }

    [Fact]
    public async Task A_restarted_agent_keeps_peers_and_routes_until_synced_then_removes_only_the_stale_ones()
    {
        await using var lab = await WireGuardLab.CreateAsync();
        var (a, b) = await TwoConnectedNodesAsync(lab);
        var c = await lab.AddNodeAsync("c", "cluster2", 3, "10.102.2.0/24", "10.102.2.1");
        await c.Reconciler.UpsertAsync(a.AsRemote());
        Assert.Equal(PeerChange.Added, await a.Reconciler.UpsertAsync(c.AsRemote()));
        await Eventually.TrueAsync(() => a.PingAsync(b.PodIP), Deadline, "tunnel up");

        // Restart: the device is adopted as it is, a new reconciler starts with no knowledge; C has meanwhile left.
        var device = new WireGuardDevice(a.Device.Options);
        var status = await device.EnsureAsync(a.Keys);
        Assert.True(status.Reused);
        var restarted = new WireGuardPeerReconciler(device, new WireGuardPeerReconcilerOptions { RouteSourceIPv4 = a.PodIP });
        a.ReplaceReconciler(restarted);
        await restarted.StartAsync();
        Assert.Equal(PeerChange.Added, await restarted.UpsertAsync(b.AsRemote()));

        Assert.Equal(2, (await device.DumpAsync()).Peers.Length);
        Assert.Contains(c.PodCidr, await a.RoutesThroughTunnelAsync());
        Assert.True(await a.PingAsync(c.PodIP), "C's tunnel is kept until the remote data is synced");

        Assert.Equal(2, await restarted.MarkSyncedAsync());
        Assert.Equal([b.Keys.PublicKey], (await device.DumpAsync()).Peers.Select(p => p.PublicKey));
        Assert.Equal([b.PodCidr], await a.RoutesThroughTunnelAsync());
        Assert.True(await a.PingAsync(b.PodIP), "B's traffic never stopped");
    }

    [Fact]
    public async Task Removing_the_device_stops_wireguard_go_and_deletes_the_interface()
    {
        await using var lab = await WireGuardLab.CreateAsync();
        var a = await lab.AddNodeAsync("a", "cluster1", 1, "10.101.1.0/24", "10.101.1.1");
        Assert.Equal(WireGuardImplementation.Userspace, a.Device.Status!.Implementation);
        Assert.True(File.Exists($"/var/run/wireguard/{a.InterfaceName}.sock"));
        Assert.NotEmpty(WireGuardGoProcesses(a.InterfaceName));
        Assert.Equal(51871, (await a.Device.DumpAsync()).ListenPort);

        await a.Device.RemoveAsync();

        Assert.Empty(WireGuardGoProcesses(a.InterfaceName));
        Assert.False(File.Exists($"/var/run/wireguard/{a.InterfaceName}.sock"));
        Assert.False((await a.RunAsync("ip", "link", "show", "dev", a.InterfaceName)).Succeeded);
    }

    internal static async Task<(LabNode A, LabNode B)> TwoConnectedNodesAsync(WireGuardLab lab)
    {
        var a = await lab.AddNodeAsync("a", "cluster1", 1, "10.101.1.0/24", "10.101.1.1");
        var b = await lab.AddNodeAsync("b", "cluster2", 2, "10.102.1.0/24", "10.102.1.1");
        Assert.Equal(PeerChange.Added, await a.Reconciler.UpsertAsync(b.AsRemote()));
        Assert.Equal(PeerChange.Added, await b.Reconciler.UpsertAsync(a.AsRemote()));
        return (a, b);
    }

    private static Node NodeRecord(LabNode node) => new()
    {
        Name = node.Name,
        Cluster = node.Cluster,
        IPAddresses = [new NodeAddress { Type = "InternalIP", IP = node.UnderlayIP }],
        IPv4AllocCidr = NodeCidr.Create(node.PodCidr.Split('/')[0], int.Parse(node.PodCidr.Split('/')[1], CultureInfo.InvariantCulture)),
        WireguardPubKey = node.Keys.PublicKey,
    };

    private static string Key(byte fill) => Convert.ToBase64String(Enumerable.Repeat(fill, 32).ToArray());

    private static async Task<string> ProcessRunnerRoutes(string netns)
        => (await ProcessRunner.RunCheckedAsync("ip", ["-n", netns, "route", "show", "table", "all"])).StandardOutput;

    private static List<int> WireGuardGoProcesses(string interfaceName)
        => [.. Directory.EnumerateDirectories("/proc")
            .Select(d => (Dir: d, Ok: int.TryParse(Path.GetFileName(d), out var pid), Pid: pid))
            .Where(p => p.Ok)
            .Where(p =>
            {
                try
                {
                    var argv = File.ReadAllText(Path.Combine(p.Dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                    return argv.Length >= 2 && argv[0].EndsWith("wireguard-go", StringComparison.Ordinal) && argv[^1] == interfaceName;
                }
                catch (IOException)
                {
                    return false;
                }
            })
            .Select(p => p.Pid)];
}
