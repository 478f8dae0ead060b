using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Federation.Etcd.ClusterMesh;
using Federation.Mesh.Remote;
using Federation.NodeAgent.Hosting;
using Federation.NodeAgent.Processes;
using Federation.NodeAgent.Sync;
using KubernetesNode = Federation.Kubernetes.Models.Node;

namespace Federation.NodeAgent.Tunnels;

/// <summary>
/// The agent's IPsec (<c>--ipsec=true</c>, only where <see cref="IpsecSupport"/> found ESP; the agent refuses to start
/// otherwise): the xfrm states and policies of <see cref="IpsecConfig"/> between this node (its Node's InternalIP and pod
/// CIDRs) and every remote node record, applied through <c>ip xfrm</c> as records come and go. The key file is read again
/// on every tick: a new SPI in it rotates the key, the old one stays accepted for <see cref="RotationGrace"/>.
/// </summary>
/// <remarks>IPv4 only (the underlay and pod CIDRs the generated policies pair); never run on the machine it was written on (no ESP there).</remarks>
internal sealed partial class IpsecService : BackgroundService, IRemoteClusterObserver
{
    public static readonly TimeSpan RotationGrace = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(5);

    private readonly AgentOptions _options;
    private readonly LocalNodeWatch _node;
    private readonly AgentState _state;
    private readonly ILogger<IpsecService> _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<(string Cluster, string Key), IpsecNode> _remotes = new();
    private readonly Channel<bool> _changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private IpsecKeyRing? _keys;
    private ImmutableHashSet<XfrmState> _appliedStates = [];
    private ImmutableDictionary<(string, string, string), XfrmPolicy> _appliedPolicies = ImmutableDictionary<(string, string, string), XfrmPolicy>.Empty;

    public IpsecService(AgentOptions options, LocalNodeWatch node, AgentState state, ILogger<IpsecService> logger, TimeProvider time)
    {
        _options = options;
        _node = node;
        _state = state;
        _logger = logger;
        _time = time;
        node.Subscribe(_ => Changed());
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _keys = IpsecKeyRing.Of(IpsecKeyFile.Read(_options.IpsecKeyFile!));
        Log.Started(_logger, _options.IpsecKeyFile!, _keys.Current.Spi);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ApplyAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ProcessFailedException or TimeoutException or FormatException)
            {
                _state.RecordError("ipsec", e.Message);
                Log.Failed(_logger, e.Message);
            }

            // The next change, or the tick (key file re-read, grace periods ending).
            using var tick = new CancellationTokenSource(Tick, _time);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, tick.Token);
            try
            {
                await _changes.Reader.WaitToReadAsync(wait.Token).ConfigureAwait(false);
                _changes.Reader.TryRead(out _);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
            }
        }
    }

    /// <summary>This node as IPsec sees it: its Node's first IPv4 InternalIP and IPv4 pod CIDRs; null while unknown.</summary>
    public static IpsecNode? LocalNode(KubernetesNode? node)
    {
        var ip = node?.Status?.Addresses?.FirstOrDefault(a => a.Type == "InternalIP" && IsIPv4(a.Address))?.Address;
        if (node is null || ip is null)
        {
            return null;
        }

        IEnumerable<string> cidrs = node.Spec?.PodCIDRs ?? (node.Spec?.PodCIDR is { } one ? [one] : []);
        return new IpsecNode(node.Metadata.Name ?? "", ip, [.. cidrs.Where(IsIPv4Network)]);
    }

    /// <summary>A remote node record as IPsec sees it (its IPv4 InternalIP and IPv4 pod CIDRs); null when it has no usable IPv4 endpoint.</summary>
    public static IpsecNode? RemoteNode(string cluster, Node node)
    {
        var tunnel = WireGuardNodeObserver.FromNode(node);
        return IsIPv4(tunnel.EndpointIP) ? new IpsecNode($"{cluster}/{node.Name}", tunnel.EndpointIP, [.. tunnel.PodCidrs.Where(IsIPv4Network)]) : null;
    }

    public void OnUpsert(string cluster, ClusterMeshKind kind, string key, ReadOnlyMemory<byte> value, object decoded)
    {
        if (kind == ClusterMeshKind.Nodes && decoded is Node node)
        {
            if (RemoteNode(cluster, node) is { } remote)
            {
                _remotes[(cluster, key)] = remote;
            }
            else
            {
                _remotes.TryRemove((cluster, key), out _);
                Log.Skipped(_logger, cluster, node.Name);
            }

            Changed();
        }
    }

    public void OnDelete(string cluster, ClusterMeshKind kind, string key)
    {
        if (kind == ClusterMeshKind.Nodes && _remotes.TryRemove((cluster, key), out _))
        {
            Changed();
        }
    }

    public void OnSynced(string cluster, ClusterMeshKind kind)
    {
    }

    public void OnClusterConfig(string cluster, CiliumClusterConfig config)
    {
    }

    public void OnRemoved(string cluster)
    {
        foreach (var key in _remotes.Keys.Where(k => k.Cluster == cluster).ToList())
        {
            _remotes.TryRemove(key, out _);
        }

        Changed();
    }

    /// <summary>Brings the xfrm tables from what this run applied to what the current nodes and keys need: states first, then
    /// policies replaced in place (a rotation never leaves a pod CIDR pair without a policy), then what is gone.</summary>
    private async Task ApplyAsync(CancellationToken cancellationToken)
    {
        var key = IpsecKeyFile.Read(_options.IpsecKeyFile!);
        var now = _time.GetUtcNow();
        if (!key.Equals(_keys!.Current))
        {
            _keys = _keys.Rotate(key, now, RotationGrace);
            Log.Rotated(_logger, key.Spi, RotationGrace.TotalSeconds);
        }

        if (LocalNode(_node.Current) is not { } local)
        {
            return;
        }

        var desired = IpsecConfig.Generate(local, _remotes.Values, _keys, now);
        var states = desired.States.ToImmutableHashSet();
        var policies = desired.Policies.ToImmutableDictionary(PolicyKey);
        foreach (var state in desired.States.Where(s => !_appliedStates.Contains(s)))
        {
            var add = await IpAsync(state.ToIpArguments(), check: false, cancellationToken).ConfigureAwait(false);
            if (!add.Succeeded)
            {
                // Left by a previous run: replace it.
                await IpAsync(WithVerb(state.ToIpArguments(), "update"), check: true, cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var policy in desired.Policies.Where(p => !_appliedPolicies.TryGetValue(PolicyKey(p), out var applied) || !applied.Equals(p)))
        {
            await IpAsync(WithVerb(policy.ToIpArguments(), "update"), check: true, cancellationToken).ConfigureAwait(false);
        }

        foreach (var (src, dst, dir) in _appliedPolicies.Keys.Where(k => !policies.ContainsKey(k)))
        {
            await IpAsync(["xfrm", "policy", "delete", "src", src, "dst", dst, "dir", dir], check: false, cancellationToken).ConfigureAwait(false);
        }

        foreach (var state in _appliedStates.Where(s => !states.Contains(s)))
        {
            await IpAsync(["xfrm", "state", "delete", "src", state.Source, "dst", state.Destination, "proto", "esp", "spi", IpsecConfig.Hex(state.Spi)], check: false, cancellationToken)
                .ConfigureAwait(false);
        }

        if (!states.SetEquals(_appliedStates) || policies.Count != _appliedPolicies.Count)
        {
            Log.Applied(_logger, _remotes.Count, states.Count, policies.Count);
        }

        _appliedStates = states;
        _appliedPolicies = policies;
    }

    private static (string, string, string) PolicyKey(XfrmPolicy policy) => (policy.SourceCidr, policy.DestinationCidr, policy.Direction);

    private static ImmutableArray<string> WithVerb(ImmutableArray<string> arguments, string verb) => arguments.SetItem(2, verb);

    private static Task<ProcessResult> IpAsync(IReadOnlyList<string> arguments, bool check, CancellationToken cancellationToken)
        => check ? ProcessRunner.RunCheckedAsync("ip", arguments, cancellationToken: cancellationToken) : ProcessRunner.RunAsync("ip", arguments, cancellationToken: cancellationToken);

    private static bool IsIPv4(string text) => IPAddress.TryParse(text, out var ip) && ip.AddressFamily == AddressFamily.InterNetwork && ip.ToString() == text;

    private static bool IsIPv4Network(string text) => IPNetwork.TryParse(text, out var network) && network.BaseAddress.AddressFamily == AddressFamily.InterNetwork;

    private void Changed() => _changes.Writer.TryWrite(true);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "IPsec: key from {KeyFile} (SPI {Spi}); xfrm states and policies follow the remote nodes")]
        public static partial void Started(ILogger logger, string keyFile, byte spi);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "IPsec: {Remotes} remote nodes, {States} xfrm states, {Policies} policies applied")]
        public static partial void Applied(ILogger logger, int remotes, int states, int policies);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "IPsec: key rotated to SPI {Spi}; the previous key stays accepted for {Seconds}s")]
        public static partial void Rotated(ILogger logger, byte spi, double seconds);

        [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "IPsec: applying the xfrm configuration failed: {Error}")]
        public static partial void Failed(ILogger logger, string error);

        [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "IPsec: node {Cluster}/{Node} has no IPv4 InternalIP; skipped")]
        public static partial void Skipped(ILogger logger, string cluster, string node);
    }
}
