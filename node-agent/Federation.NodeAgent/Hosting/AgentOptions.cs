using System.Net;
using System.Text.RegularExpressions;
using Federation.Etcd.ClusterMesh;
using Federation.NodeAgent.Processes;
using Federation.NodeAgent.Tunnels;

namespace Federation.NodeAgent.Hosting;

/// <summary>Where the agent reads remote clusters from (<c>--remote-source</c>).</summary>
internal enum RemoteSourceKind
{
    /// <summary>Connect to every remote cluster's etcd listed in <c>--clustermesh-config</c>.</summary>
    Direct,

    /// <summary>Read kvstoremesh's copies of the remote clusters from the local etcd.</summary>
    Cache,
}

/// <summary>What the agent process does (<c>--dump</c>, <c>--uninstall</c>, or serve).</summary>
internal enum AgentMode
{
    Run,
    Dump,
    Uninstall,
}

/// <summary>Settings of a node agent; every property has a command-line flag (<see cref="AgentFlags"/>).</summary>
internal sealed partial class AgentOptions
{
    /// <summary><c>--node-name</c>: the pins live in <c>--bpffs-root/NODE/</c>.</summary>
    public string NodeName { get; set; } = "";

    /// <summary><c>--cluster-name</c>.</summary>
    public string ClusterName { get; set; } = "";

    /// <summary><c>--cluster-id</c>: 1–255, or 1–511 with <c>--max-connected-clusters=511</c>.</summary>
    public uint ClusterId { get; set; }

    /// <summary><c>--max-connected-clusters</c>: 255 or 511, the same mesh-wide.</summary>
    public uint MaxConnectedClusters { get; set; } = ClusterIdentity.DefaultMaxConnectedClusters;

    /// <summary><c>--kubeconfig</c> (and <c>--context</c>); neither: in-cluster configuration.</summary>
    public string? Kubeconfig { get; set; }

    public string? KubeContext { get; set; }

    /// <summary><c>--etcd-endpoints</c>: the cluster's own etcd (where kvstoremesh keeps its copies); needed by <c>--remote-source=cache</c>.</summary>
    public IList<Uri> EtcdEndpoints { get; set; } = [];

    /// <summary><c>--etcd-ca-file</c>, <c>--etcd-cert-file</c>, <c>--etcd-key-file</c>.</summary>
    public string? EtcdCaFile { get; set; }

    public string? EtcdCertFile { get; set; }

    public string? EtcdKeyFile { get; set; }

    /// <summary><c>--clustermesh-config</c>: one file per remote cluster (Cilium's format); a missing directory means no remotes.</summary>
    public string ClusterMeshConfig { get; set; } = "/var/lib/federation/clustermesh";

    /// <summary>
    /// <c>--remote-source</c>: <c>cache</c> (default: remote clusters as kvstoremesh copied them into the local etcd,
    /// one connection) or <c>direct</c> (a connection to each remote etcd of <c>--clustermesh-config</c>).
    /// </summary>
    public RemoteSourceKind RemoteSource { get; set; } = RemoteSourceKind.Cache;

    /// <summary><c>--cgroup</c>: the cgroup v2 directory whose sockets are load-balanced.</summary>
    public string CgroupPath { get; set; } = "";

    /// <summary><c>--bpffs-root</c>.</summary>
    public string BpfFsRoot { get; set; } = "/sys/fs/bpf/federation";

    /// <summary><c>--state-dir</c>: the agent writes its last status there after every apply (read by <c>--dump</c> for service names).</summary>
    public string StateDirectory { get; set; } = "/var/run/federation/node-agent";

    /// <summary><c>--health-listen</c>: /healthz, /readyz, /metrics and /status.</summary>
    public IPEndPoint HealthListen { get; set; } = new(IPAddress.Loopback, 9890);

    /// <summary><c>--sync-timeout</c>: how long the first apply waits for the local informers and every remote to sync.</summary>
    public TimeSpan SyncTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary><c>--dump</c> / <c>--uninstall</c>.</summary>
    public AgentMode Mode { get; set; } = AgentMode.Run;

    /// <summary><c>--wireguard</c>: run the node's WireGuard tunnels (opt-in, as Cilium's encryption).</summary>
    public bool WireGuard { get; set; }

    /// <summary><c>--wireguard-interface</c>: at most 15 characters; host-unique when wireguard-go serves it (its UAPI socket is host-wide).</summary>
    public string WireGuardInterface { get; set; } = "cilium_wg0";

    /// <summary><c>--wireguard-port</c>: the UDP port this node listens on and every remote node is reached at.</summary>
    public int WireGuardPort { get; set; } = WireGuardDeviceOptions.DefaultListenPort;

    /// <summary><c>--wireguard-netns</c>: the node's network namespace (under /var/run/netns) holding the interface and the routes; null: the agent's own.</summary>
    public string? WireGuardNetns { get; set; }

    /// <summary><c>--wireguard-underlay-interface</c>: the interface whose MTU − 80 is the tunnel's; null: 1500 − 80.</summary>
    public string? WireGuardUnderlayInterface { get; set; }

    /// <summary><c>--wireguard-userspace</c>: use wireguard-go even where the kernel module exists.</summary>
    public bool WireGuardUserspace { get; set; }

    /// <summary><c>--wireguard-route-source</c>: the node's pod-side IPv4 address, the <c>src</c> of routes to remote pod CIDRs; null: none.</summary>
    public string? WireGuardRouteSource { get; set; }

    /// <summary><c>--ipsec</c>: IPsec (xfrm ESP) between nodes instead of WireGuard; refused at start where the kernel has no ESP.</summary>
    public bool Ipsec { get; set; }

    /// <summary><c>--ipsec-key-file</c>: Cilium's IPsec key file (<see cref="IpsecKeyFile"/>); required with <c>--ipsec=true</c>.</summary>
    public string? IpsecKeyFile { get; set; }

    /// <summary>Where the node's WireGuard private key lives: a directory of its own per node, so agents sharing <c>--state-dir</c> never share a key.</summary>
    public string WireGuardKeyDirectory => Path.Combine(StateDirectory, NodeName);

    /// <summary>Changes arriving within this window are programmed in one apply.</summary>
    public TimeSpan ApplyDebounce { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The pin directory of this node.</summary>
    public string PinDirectory => Path.Combine(BpfFsRoot, NodeName);

    /// <summary>Every problem, each naming its flag; empty when the options are usable for <see cref="Mode"/>.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!NodeNamePattern().IsMatch(NodeName))
        {
            errors.Add($"--node-name: '{NodeName}' must be a plain name (letters, digits, '.', '_', '-')");
        }

        if (string.IsNullOrWhiteSpace(BpfFsRoot) || !Path.IsPathRooted(BpfFsRoot))
        {
            errors.Add($"--bpffs-root: '{BpfFsRoot}' must be an absolute path under a mounted bpffs (e.g. /sys/fs/bpf/federation)");
        }

        if (WireGuard || Mode == AgentMode.Uninstall)
        {
            ValidateWireGuard(errors);
        }

        if (Ipsec && WireGuard)
        {
            errors.Add("--ipsec=true and --wireguard=true exclude each other: choose one encryption for node-to-node traffic");
        }

        if (Mode != AgentMode.Run)
        {
            return errors;
        }

        if (ClusterIdentity.ValidateClusterName(ClusterName) is { Ok: false } name)
        {
            errors.Add($"--cluster-name: {name.Error}");
        }

        if (ClusterIdentity.ValidateMaxConnectedClusters(MaxConnectedClusters) is { Ok: false } max)
        {
            errors.Add($"--max-connected-clusters: {max.Error}");
        }
        else if (ClusterIdentity.ValidateClusterId(ClusterId, MaxConnectedClusters) is { Ok: false } id)
        {
            errors.Add($"--cluster-id: {id.Error}");
        }

        if (string.IsNullOrWhiteSpace(CgroupPath))
        {
            errors.Add("--cgroup: the cgroup v2 directory to attach to is required (e.g. /sys/fs/cgroup/unified)");
        }
        else if (!Directory.Exists(CgroupPath))
        {
            errors.Add($"--cgroup: '{CgroupPath}' is not a directory");
        }

        if (Kubeconfig is not null && !File.Exists(Kubeconfig))
        {
            errors.Add($"--kubeconfig: '{Kubeconfig}' does not exist");
        }

        if (string.IsNullOrWhiteSpace(ClusterMeshConfig))
        {
            errors.Add("--clustermesh-config: a directory is required (it may be empty or absent: no remote clusters)");
        }

        if (RemoteSource == RemoteSourceKind.Cache && EtcdEndpoints.Count == 0)
        {
            errors.Add("--etcd-endpoints: the local etcd's URLs are needed to read remote clusters from its cache (or use --remote-source direct)");
        }

        if ((EtcdCertFile is null) != (EtcdKeyFile is null))
        {
            errors.Add("--etcd-cert-file and --etcd-key-file go together");
        }

        if (string.IsNullOrWhiteSpace(StateDirectory))
        {
            errors.Add("--state-dir: a directory is required");
        }

        if (SyncTimeout <= TimeSpan.Zero)
        {
            errors.Add($"--sync-timeout: {SyncTimeout} must be a positive duration (e.g. 60s)");
        }

        if (Ipsec)
        {
            ValidateIpsec(errors);
        }
        else if (IpsecKeyFile is not null)
        {
            errors.Add("--ipsec-key-file: only used with --ipsec=true");
        }

        return errors;
    }

    private void ValidateIpsec(List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(IpsecKeyFile))
        {
            errors.Add("--ipsec-key-file: required with --ipsec=true (Cilium's key file: \"SPI ALGO KEY ICV-BITS\", e.g. \"3 rfc4106(gcm(aes)) 0x… 128\")");
            return;
        }

        try
        {
            Tunnels.IpsecKeyFile.Read(IpsecKeyFile);
        }
        catch (FormatException e)
        {
            errors.Add($"--ipsec-key-file: {e.Message}");
        }
    }

    private void ValidateWireGuard(List<string> errors)
    {
        if (!InterfaceNamePattern().IsMatch(WireGuardInterface))
        {
            errors.Add($"--wireguard-interface: '{WireGuardInterface}' must be 1-15 characters of A-Z a-z 0-9 _ . - (a Linux interface name)");
        }

        if (WireGuardPort is < 1 or > 65535)
        {
            errors.Add($"--wireguard-port: {WireGuardPort} is not a UDP port (1-65535)");
        }

        if (WireGuardNetns is { } netns)
        {
            if (!NodeNamePattern().IsMatch(netns))
            {
                errors.Add($"--wireguard-netns: '{netns}' must be the name of a network namespace under {ProcessRunner.NetnsDirectory} (not a path)");
            }
            else if (Mode == AgentMode.Run && !File.Exists(Path.Combine(ProcessRunner.NetnsDirectory, netns)))
            {
                errors.Add($"--wireguard-netns: no network namespace '{netns}' ({Path.Combine(ProcessRunner.NetnsDirectory, netns)} does not exist)");
            }
        }

        if (WireGuardUnderlayInterface is { } underlay && !InterfaceNamePattern().IsMatch(underlay))
        {
            errors.Add($"--wireguard-underlay-interface: '{underlay}' must be 1-15 characters of A-Z a-z 0-9 _ . - (a Linux interface name)");
        }

        // IPAddress.TryParse takes legacy forms ("10.1" is 10.0.0.1): a route source must be a dotted quad.
        if (WireGuardRouteSource is { } source
            && (!IPAddress.TryParse(source, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
                || address.ToString() != source || address.Equals(IPAddress.Any)))
        {
            errors.Add($"--wireguard-route-source: '{source}' is not an IPv4 address (the node's own pod-side address, e.g. 10.1.1.1)");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,15}$")]
    private static partial Regex InterfaceNamePattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex NodeNamePattern();
}
