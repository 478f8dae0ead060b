using System.Runtime.Versioning;
using System.Text.Json;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Models;
using Federation.NodeAgent.Hosting;
using Federation.NodeAgent.Processes;
using Federation.NodeAgent.Tests.Tunnels;
using Federation.NodeAgent.Tunnels;
using EtcdNode = Federation.Etcd.ClusterMesh.Node;
using KubernetesNode = Federation.Kubernetes.Models.Node;

namespace Federation.NodeAgent.Tests.Agent;

/// <summary>
/// The agent with <c>--wireguard=true</c>, in-process against the lab API server, reading remote nodes from its local
/// etcd's cache (as kvstoremesh writes it), with its interface in a node namespace on a lab underlay bridge. The remote
/// node is a lab namespace on the same bridge with its own WireGuard, so the tunnel really carries traffic.
/// </summary>
[SupportedOSPlatform("linux")] // netns, wg and file modes: the tests run where the agent runs
[Trait("Needs", "root")]
[Trait("Needs", "netns")]
[Trait("Needs", "bpf")]
[Trait("Needs", "etcd")]
public sealed class AgentWireGuardTests : IAsyncLifetime
{
    private const string RemoteCluster = "cluster2";
    private const string RemotePodCidr = "10.2.1.0/24";
    private AgentEnvironment _env = null!;
    private WireGuardLab _lab = null!;
    private AgentOptions? _agentOptions;

    public async Task InitializeAsync()
    {
        _env = await AgentEnvironment.StartAsync();
        _lab = await WireGuardLab.CreateAsync();
    }

    public async Task DisposeAsync()
    {
        // The agents first (they work in the namespaces), then their interface and its wireguard-go, then the namespaces.
        await _env.DisposeAsync();
        if (_agentOptions is not null)
        {
            try
            {
                await new WireGuardDevice(TunnelService.DeviceOptions(_agentOptions)).RemoveAsync();
            }
            catch (Exception e) when (e is ProcessFailedException or TimeoutException or InvalidOperationException)
            {
                // The namespace deletion below takes the interface and kills its daemon.
            }
        }

        await _lab.DisposeAsync();
    }

    [Fact]
    public async Task The_agent_publishes_its_key_keeps_a_peer_per_remote_node_and_keeps_key_and_tunnel_across_a_restart()
    {
        // Node A runs the agent under test; node B (cluster2) is a remote node with its own WireGuard on the same underlay.
        var a = await _lab.AddNodeAsync("a", AgentEnvironment.ClusterName, 1, "10.1.1.0/24", "10.1.1.1", startWireGuard: false);
        var b = await _lab.AddNodeAsync("b", RemoteCluster, 2, RemotePodCidr, "10.2.1.1");
        var local = await _env.StartRemoteAsync(AgentEnvironment.ClusterName, AgentEnvironment.ClusterId, canaries: false);
        await local.Client.PutAsync(ClusterMeshKeys.CachedNode(RemoteCluster, "node-b"), ClusterMeshJson.Serialize(RemoteNode("node-b", b)));
        await PutCachedRemoteAsync(local);

        var options = _env.Options();
        options.RemoteSource = RemoteSourceKind.Cache;
        options.EtcdEndpoints = [.. local.Server.ClientEndpoints];
        options.WireGuard = true;
        options.WireGuardInterface = $"wg-{_lab.Id[..4]}a";
        options.WireGuardNetns = a.Netns;
        options.WireGuardUnderlayInterface = "eth0";
        _agentOptions = options;
        var agent = await _env.StartAgentAsync(options);

        // (a) The key is made once, 0600, in the state directory; the Node does not exist yet, so publishing waits for it.
        var keyFile = Path.Combine(options.StateDirectory, options.NodeName, WireGuardKeys.FileName);
        Assert.True(File.Exists(keyFile), $"{keyFile} written");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        var publicKey = await PublicKeyOfAsync(keyFile);
        await Eventually.TrueAsync(
            async () => (await StatusAsync(agent)).GetProperty("keyPublishError").GetString()?.Contains("does not exist", StringComparison.Ordinal) == true,
            AgentEnvironment.Timeout,
            "the missing Node reported in /status");
        await _env.Kubernetes.CreateAsync(new KubernetesNode { Metadata = new ObjectMeta { Name = options.NodeName } });
        await Eventually.TrueAsync(async () => await AnnotationAsync() == publicKey, AgentEnvironment.Timeout, "the public key annotated on the Node once it exists");

        // (b) The remote node record becomes a peer (endpoint = its InternalIP:51871, AllowedIPs = its pod CIDR) and a route in A's namespace.
        var device = new WireGuardDevice(TunnelService.DeviceOptions(options));
        await Eventually.TrueAsync(async () => (await device.DumpAsync()).Peers.Any(p => p.PublicKey == b.Keys.PublicKey), AgentEnvironment.Timeout, "node-b's peer on A's interface");
        var peer = Assert.Single((await device.DumpAsync()).Peers);
        Assert.Equal($"{b.UnderlayIP}:51871", peer.Endpoint);
        Assert.Equal([RemotePodCidr], peer.AllowedIps.ToArray());
        // The route follows the peer (a separate netlink call): wait for it rather than race it.
        await Eventually.TrueAsync(async () => (await RoutesAsync(a, options.WireGuardInterface)).Contains(RemotePodCidr), AgentEnvironment.Timeout, "node-b's pod CIDR routed into the tunnel");

        // B learns A from A's published key (the other side's agent would); then A's pod reaches B's pod through the tunnel.
        await b.Reconciler.UpsertAsync(new RemoteNodeTunnel
        {
            Cluster = AgentEnvironment.ClusterName, Node = options.NodeName, PublicKey = publicKey, EndpointIP = a.UnderlayIP, PodCidrs = [a.PodCidr],
        });
        await Eventually.TrueAsync(() => a.PingAsync(b.PodIP), AgentEnvironment.Timeout, "A's pod pings B's pod through the agent's tunnel");

        // (c) /status shows the tunnel and its peer with a handshake and traffic; /metrics counts it as handshaken.
        var status = await StatusAsync(agent);
        Assert.Equal(options.WireGuardInterface, status.GetProperty("interface").GetString());
        Assert.Equal(a.Netns, status.GetProperty("namespace").GetString());
        Assert.Equal(publicKey, status.GetProperty("publicKey").GetString());
        Assert.Equal(51871, status.GetProperty("listenPort").GetInt32());
        Assert.Equal("wireguard-go", status.GetProperty("mode").GetString());
        Assert.Equal(1500 - 80, status.GetProperty("mtu").GetInt32());
        Assert.True(status.GetProperty("keyPublished").GetBoolean());
        Assert.True(status.GetProperty("synced").GetBoolean());
        var statusPeer = Assert.Single(status.GetProperty("peers").EnumerateArray().ToList());
        Assert.Equal("node-b", statusPeer.GetProperty("node").GetString());
        Assert.Equal(RemoteCluster, statusPeer.GetProperty("cluster").GetString());
        Assert.Equal($"{b.UnderlayIP}:51871", statusPeer.GetProperty("endpoint").GetString());
        Assert.Equal([RemotePodCidr], statusPeer.GetProperty("allowedIPs").EnumerateArray().Select(e => e.GetString()));
        Assert.NotNull(statusPeer.GetProperty("latestHandshake").GetString());
        Assert.Equal("handshaken", statusPeer.GetProperty("state").GetString());
        Assert.True(statusPeer.GetProperty("rxBytes").GetInt64() > 0, "bytes received from B");
        Assert.True(statusPeer.GetProperty("txBytes").GetInt64() > 0, "bytes sent to B");
        var metrics = await new HttpClient().GetStringAsync(new Uri(agent.HealthUri, "metrics"));
        Assert.Contains($"federation_wireguard_peers{{interface=\"{options.WireGuardInterface}\",state=\"handshaken\"}} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("federation_wireguard_peer_transmit_bytes_total{", metrics, StringComparison.Ordinal);

        // A second remote node (no namespace: a record is all the agent needs to program it).
        var nodeCKey = await PublicKeyOfTextAsync((await ProcessRunner.RunCheckedAsync("wg", ["genkey"])).StandardOutput);
        var nodeC = new EtcdNode
        {
            Name = "node-c", Cluster = RemoteCluster, ClusterId = 2, WireguardPubKey = nodeCKey,
            IPAddresses = [new Federation.Etcd.ClusterMesh.NodeAddress { Type = "InternalIP", IP = "192.168.77.3" }],
            IPv4AllocCidr = NodeCidr.Create("10.2.2.0", 24),
        };
        await local.Client.PutAsync(ClusterMeshKeys.CachedNode(RemoteCluster, "node-c"), ClusterMeshJson.Serialize(nodeC));
        await Eventually.TrueAsync(async () => (await device.DumpAsync()).Peers.Length == 2, AgentEnvironment.Timeout, "node-c's peer added");
        await Eventually.TrueAsync(async () => (await RoutesAsync(a, options.WireGuardInterface)).Contains("10.2.2.0/24"), AgentEnvironment.Timeout, "node-c's pod CIDR routed into the tunnel");

        // (d) Stopping the agent leaves the tunnel carrying traffic. While it is down node-c leaves, and the cache is not
        // complete (no canaries): the restarted agent reuses key and interface and keeps node-c's peer until cluster2 is synced.
        await _env.StopAgentAsync(agent);
        Assert.Contains(b.Keys.PublicKey, (await device.DumpAsync()).Peers.Select(p => p.PublicKey));
        Assert.True(await a.PingAsync(b.PodIP), "the tunnel carries traffic while the agent is down");
        await local.Client.DeleteAsync(ClusterMeshKeys.CachedNode(RemoteCluster, "node-c"));
        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            await local.Client.DeleteAsync(ClusterMeshKeys.CacheSyncedCanary(kind, RemoteCluster));
        }

        agent = await _env.StartAgentAsync(options);
        Assert.Equal(publicKey, await PublicKeyOfAsync(keyFile));
        await Eventually.TrueAsync(
            async () => (await StatusAsync(agent)).GetProperty("waitingFor").GetString() == RemoteCluster, AgentEnvironment.Timeout, "the restarted agent waiting for cluster2's nodes");
        status = await StatusAsync(agent);
        Assert.False(status.GetProperty("synced").GetBoolean());
        Assert.Equal(2, status.GetProperty("peers").GetArrayLength());
        Assert.Contains("10.2.2.0/24", await RoutesAsync(a, options.WireGuardInterface));
        Assert.True(await a.PingAsync(b.PodIP), "the tunnel carries traffic while the restarted agent syncs");

        await PutCachedRemoteAsync(local);
        await Eventually.TrueAsync(async () => (await StatusAsync(agent)).GetProperty("synced").GetBoolean(), AgentEnvironment.Timeout, "the restarted agent synced");
        await Eventually.TrueAsync(async () => (await device.DumpAsync()).Peers.Length == 1, AgentEnvironment.Timeout, "node-c's stale peer removed after the sync");
        await Eventually.TrueAsync(async () => !(await RoutesAsync(a, options.WireGuardInterface)).Contains("10.2.2.0/24"), AgentEnvironment.Timeout, "node-c's route removed with its peer");
        status = await StatusAsync(agent);
        Assert.Equal(publicKey, status.GetProperty("publicKey").GetString());
        Assert.True(status.GetProperty("adoptedInterface").GetBoolean());
        Assert.Equal("node-b", Assert.Single(status.GetProperty("peers").EnumerateArray().ToList()).GetProperty("node").GetString());
        await Eventually.TrueAsync(async () => await AnnotationAsync() == publicKey, AgentEnvironment.Timeout, "the same key on the Node");
        Assert.True(await a.PingAsync(b.PodIP), "the tunnel carries traffic after the restart");

        // (b) The deleted record takes its peer and route away.
        await local.Client.DeleteAsync(ClusterMeshKeys.CachedNode(RemoteCluster, "node-b"));
        await Eventually.TrueAsync(async () => (await device.DumpAsync()).Peers.IsEmpty, AgentEnvironment.Timeout, "node-b's peer removed");
        await Eventually.TrueAsync(async () => !(await RoutesAsync(a, options.WireGuardInterface)).Contains(RemotePodCidr), AgentEnvironment.Timeout, "node-b's route removed with its peer");
        Assert.Empty((await StatusAsync(agent)).GetProperty("peers").EnumerateArray());

        // --uninstall --wireguard=true removes the interface (and its wireguard-go).
        await _env.StopAgentAsync(agent);
        var (exit, output, error) = await AgentEnvironment.RunAgentProcessAsync(
            "--uninstall", "--node-name", options.NodeName, "--bpffs-root", options.BpfFsRoot,
            "--wireguard=true", "--wireguard-interface", options.WireGuardInterface, "--wireguard-netns", a.Netns);
        Assert.True(exit == 0, $"--uninstall exited with {exit}: {error}");
        Assert.Contains($"removed the WireGuard interface {options.WireGuardInterface}", output, StringComparison.Ordinal);
        Assert.False((await a.RunAsync("ip", "link", "show", "dev", options.WireGuardInterface)).Succeeded, "the interface is gone");
        Assert.False(File.Exists(Path.Combine(WireGuardDevice.UapiDirectory, options.WireGuardInterface + ".sock")), "wireguard-go's socket is gone");
    }

    [Fact]
    public async Task The_key_annotation_comes_back_when_the_node_is_recreated_or_the_annotation_changed_and_routes_carry_the_route_source()
    {
        var a = await _lab.AddNodeAsync("a", AgentEnvironment.ClusterName, 1, "10.1.1.0/24", "10.1.1.1", startWireGuard: false);
        var local = await _env.StartRemoteAsync(AgentEnvironment.ClusterName, AgentEnvironment.ClusterId, canaries: false);
        var nodeBKey = await PublicKeyOfTextAsync((await ProcessRunner.RunCheckedAsync("wg", ["genkey"])).StandardOutput);
        var nodeB = new EtcdNode
        {
            Name = "node-b", Cluster = RemoteCluster, ClusterId = 2, WireguardPubKey = nodeBKey,
            IPAddresses = [new Federation.Etcd.ClusterMesh.NodeAddress { Type = "InternalIP", IP = "192.168.77.2" }],
            IPv4AllocCidr = NodeCidr.Create("10.2.1.0", 24),
        };
        await local.Client.PutAsync(ClusterMeshKeys.CachedNode(RemoteCluster, "node-b"), ClusterMeshJson.Serialize(nodeB));
        await PutCachedRemoteAsync(local);

        var options = _env.Options();
        options.RemoteSource = RemoteSourceKind.Cache;
        options.EtcdEndpoints = [.. local.Server.ClientEndpoints];
        options.WireGuard = true;
        options.WireGuardInterface = $"wg-{_lab.Id[..4]}a";
        options.WireGuardNetns = a.Netns;
        options.WireGuardRouteSource = a.PodIP;
        _agentOptions = options;
        await _env.Kubernetes.CreateAsync(new KubernetesNode { Metadata = new ObjectMeta { Name = options.NodeName } });
        var agent = await _env.StartAgentAsync(options);
        var publicKey = await PublicKeyOfAsync(Path.Combine(options.StateDirectory, options.NodeName, WireGuardKeys.FileName));
        await Eventually.TrueAsync(async () => await AnnotationAsync() == publicKey, AgentEnvironment.Timeout, "the public key annotated on the Node");

        // --wireguard-route-source: the route to the remote pod CIDR says which of the node's addresses its packets leave from.
        await Eventually.TrueAsync(async () => (await RouteLinesAsync(a, options.WireGuardInterface)).Any(l => l.StartsWith(RemotePodCidr, StringComparison.Ordinal)),
            AgentEnvironment.Timeout, "the route to node-b's pod CIDR");
        var route = Assert.Single(await RouteLinesAsync(a, options.WireGuardInterface), l => l.StartsWith(RemotePodCidr, StringComparison.Ordinal));
        Assert.Contains($" src {a.PodIP}", route, StringComparison.Ordinal);

        // The Node deleted and registered again (as a kubelet does after a node is rebuilt): the key is back within seconds.
        var fewSeconds = TimeSpan.FromSeconds(5);
        await _env.Kubernetes.DeleteAsync<KubernetesNode>(null, options.NodeName);
        await Eventually.TrueAsync(async () => await AnnotationAsync() is null, AgentEnvironment.Timeout, "the Node gone");
        await _env.Kubernetes.CreateAsync(new KubernetesNode { Metadata = new ObjectMeta { Name = options.NodeName } });
        await Eventually.TrueAsync(async () => await AnnotationAsync() == publicKey, fewSeconds, "the key annotated again on the recreated Node");

        // Someone changes the annotation by hand, then removes it: restored each time.
        var otherKey = nodeBKey;
        await PatchAnnotationAsync(options.NodeName, $"\"{otherKey}\"");
        await Eventually.TrueAsync(async () => await AnnotationAsync() == publicKey, fewSeconds, "the changed annotation restored");
        await PatchAnnotationAsync(options.NodeName, "null");
        await Eventually.TrueAsync(async () => await AnnotationAsync() == publicKey, fewSeconds, "the removed annotation restored");

        var status = await StatusAsync(agent);
        Assert.True(status.GetProperty("keyPublished").GetBoolean());
        Assert.True(status.GetProperty("keyRestores").GetInt64() >= 3, $"restores counted in /status: {status.GetProperty("keyRestores")}");
        Assert.Equal(JsonValueKind.Null, status.GetProperty("keyPublishError").ValueKind);
    }

    private async Task PatchAnnotationAsync(string node, string valueJson)
        => await _env.Kubernetes.PatchAsync<KubernetesNode>(
            null, node, PatchType.Merge, $"{{\"metadata\":{{\"annotations\":{{\"{WireGuardKeys.PublicKeyAnnotation}\":{valueJson}}}}}}}");

    private static async Task<string[]> RouteLinesAsync(LabNode node, string @interface)
        => (await node.RunAsync("ip", "-4", "route", "show", "dev", @interface)).EnsureSuccess().StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static EtcdNode RemoteNode(string name, LabNode node) => new()
    {
        Name = name,
        Cluster = RemoteCluster,
        ClusterId = 2,
        IPAddresses = [new Federation.Etcd.ClusterMesh.NodeAddress { Type = "InternalIP", IP = node.UnderlayIP }],
        IPv4AllocCidr = NodeCidr.Create(node.PodCidr.Split('/')[0], 24),
        WireguardPubKey = node.Keys.PublicKey,
    };

    /// <summary>What kvstoremesh writes for a remote in the local etcd: its cached cluster config and the cache canaries.</summary>
    private static async Task PutCachedRemoteAsync(RemoteClusterEtcd local)
    {
        var config = new CiliumClusterConfig { Id = 2, Capabilities = new ClusterCapabilities { SyncedCanaries = true, Cached = true, MaxConnectedClusters = 255 } };
        await local.Client.PutAsync(ClusterMeshKeys.ClusterConfig(RemoteCluster), ClusterMeshJson.Serialize(config));
        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            await local.Client.PutAsync(ClusterMeshKeys.CacheSyncedCanary(kind, RemoteCluster), ClusterMeshTimestamp.Format(DateTimeOffset.UtcNow));
        }
    }

    private static async Task<string> PublicKeyOfAsync(string keyFile) => await PublicKeyOfTextAsync(await File.ReadAllTextAsync(keyFile));

    private static async Task<string> PublicKeyOfTextAsync(string privateKey)
        => (await ProcessRunner.RunCheckedAsync("wg", ["pubkey"], new ProcessRunOptions { StandardInput = privateKey })).StandardOutput.Trim();

    private async Task<string?> AnnotationAsync()
    {
        try
        {
            var node = await _env.Kubernetes.GetAsync<KubernetesNode>(null, _agentOptions!.NodeName);
            return node.Metadata.Annotations?.GetValueOrDefault(WireGuardKeys.PublicKeyAnnotation);
        }
        catch (KubernetesNotFoundException)
        {
            return null;
        }
    }

    private static async Task<JsonElement> StatusAsync(AgentHost agent)
    {
        using var document = JsonDocument.Parse(await new HttpClient().GetStringAsync(new Uri(agent.HealthUri, "status")));
        return document.RootElement.GetProperty("wireguard").Clone();
    }

    private static async Task<HashSet<string>> RoutesAsync(LabNode node, string @interface)
    {
        var result = (await node.RunAsync("ip", "-4", "route", "show", "dev", @interface)).EnsureSuccess();
        return [.. result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0])];
    }
}
