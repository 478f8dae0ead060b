using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Federation.Kubernetes.Client;
using Federation.Mesh.Remote;
using Federation.NodeAgent.Hosting;
using Federation.NodeAgent.Sync;
using Polly;
using Polly.Retry;
using KubernetesNode = Federation.Kubernetes.Models.Node;

namespace Federation.NodeAgent.Tunnels;

/// <summary>
/// The agent's WireGuard (<c>--wireguard=true</c>): at start the node's key (generated once in the state directory) and
/// its interface (created, or adopted from the previous run with its peers and routes); then the public key published
/// on the agent's Node, one peer per remote node as the remote source delivers them, and the peers and routes of a
/// previous run that no node claims removed once every remote cluster's nodes are synced. Stopping leaves the interface
/// and its peers in place, so traffic keeps flowing while the agent restarts.
/// </summary>
internal sealed partial class TunnelService : BackgroundService
{
    private static readonly TimeSpan SyncPollInterval = TimeSpan.FromMilliseconds(100);

    // Another writer fighting over the annotation must not turn into a patch storm against the API server.
    private static readonly TimeSpan MinRepublishInterval = TimeSpan.FromSeconds(1);

    private readonly AgentOptions _options;
    private readonly WireGuardDevice _device;
    private readonly WireGuardPeerReconciler _reconciler;
    private readonly WireGuardNodeObserver _observer;
    private readonly RemoteSourceService _remoteHost;
    private readonly IRemoteClusterSource _remote;
    private readonly IKubernetesClient _kubernetes;
    private readonly AgentState _state;
    private readonly ILogger<TunnelService> _logger;
    private readonly TimeProvider _time;
    private readonly LocalNodeWatch _node;

    // One pending "publish the key" request is enough: several changes before it runs need one patch.
    private readonly Channel<bool> _publishRequests = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private long _restores;

    public TunnelService(
        AgentOptions options,
        WireGuardDevice device,
        WireGuardPeerReconciler reconciler,
        WireGuardNodeObserver observer,
        RemoteSourceService remoteHost,
        IRemoteClusterSource remote,
        IKubernetesClient kubernetes,
        AgentState state,
        LocalNodeWatch node,
        ILogger<TunnelService> logger,
        TimeProvider time)
    {
        _node = node;
        node.Subscribe(OnNodeChanged);
        _options = options;
        _device = device;
        _reconciler = reconciler;
        _observer = observer;
        _remoteHost = remoteHost;
        _remote = remote;
        _kubernetes = kubernetes;
        _state = state;
        _logger = logger;
        _time = time;
    }

    /// <summary>The node's keys, known once started.</summary>
    public WireGuardKeys? Keys { get; private set; }

    /// <summary>When the public key was last written to the Node's annotation; null until then.</summary>
    public DateTimeOffset? KeyPublishedAt { get; private set; }

    /// <summary>How often the key had to be published again after the Node was recreated or its annotation removed or changed.</summary>
    public long KeyRestores => Interlocked.Read(ref _restores);

    /// <summary>Why the last publication attempt failed (cleared by a success).</summary>
    public string? KeyPublishError { get; private set; }

    /// <summary>The remote clusters whose nodes the stale-peer cleanup still waits for; empty once synced.</summary>
    public IReadOnlyList<string> WaitingFor { get; private set; } = ["remote cluster configuration"];

    /// <summary>The settings of the node's interface, from the agent's flags.</summary>
    public static WireGuardDeviceOptions DeviceOptions(AgentOptions options) => new()
    {
        InterfaceName = options.WireGuardInterface,
        ListenPort = options.WireGuardPort,
        NetworkNamespace = options.WireGuardNetns,
        UnderlayInterface = options.WireGuardUnderlayInterface,
        UseKernelModule = !options.WireGuardUserspace,
    };

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the remote source starts: the interface and what a previous run left on it are known before the first
        // node record is applied. A failure here fails the agent's start, with the command and its stderr.
        Keys = await WireGuardKeys.LoadOrCreateAsync(_options.WireGuardKeyDirectory, _device.Options.WgPath, cancellationToken).ConfigureAwait(false);
        Log.Key(_logger, Keys.Generated ? "generated" : "reused", Keys.PrivateKeyPath, Keys.PublicKey);
        await _device.EnsureAsync(Keys, cancellationToken).ConfigureAwait(false);
        await _reconciler.StartAsync(cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _observer.Complete();
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        Log.Stopped(_logger, _device.InterfaceName);
    }

    /// <summary>Reads the interface's peers and counters now (also what the metrics then report); null when that fails (the error is recorded).</summary>
    public async Task<WireGuardStatus?> RefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _reconciler.RefreshStatusAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Processes.ProcessFailedException or TimeoutException or FormatException or InvalidOperationException)
        {
            _state.RecordError("wireguard", e.Message);
            return null;
        }
    }

    /// <summary>The tunnel part of /status: the interface, the key, sync, and every peer with its handshake and counters.</summary>
    public async Task<JsonObject> StatusAsync(CancellationToken cancellationToken)
    {
        var status = await RefreshAsync(cancellationToken).ConfigureAwait(false);
        var device = _device.Status;
        var peers = new JsonArray();
        foreach (var peer in status?.Peers ?? [])
        {
            peers.Add(new JsonObject
            {
                ["node"] = peer.Node,
                ["cluster"] = peer.Cluster,
                ["publicKey"] = peer.PublicKey,
                ["endpoint"] = peer.Endpoint,
                ["allowedIPs"] = new JsonArray([.. peer.AllowedIps.Select(a => JsonValue.Create(a))]),
                ["latestHandshake"] = peer.LatestHandshake?.ToString("O", CultureInfo.InvariantCulture),
                ["state"] = WireGuardMetrics.StateName(peer.State),
                ["rxBytes"] = peer.ReceivedBytes,
                ["txBytes"] = peer.TransmittedBytes,
            });
        }

        return new JsonObject
        {
            ["enabled"] = true,
            ["interface"] = _device.InterfaceName,
            ["namespace"] = _options.WireGuardNetns,
            ["mode"] = device is null ? null : ModeName(device.Implementation),
            ["publicKey"] = Keys?.PublicKey,
            ["listenPort"] = status?.ListenPort ?? device?.ListenPort,
            ["mtu"] = device?.Mtu,
            ["adoptedInterface"] = device?.Reused,
            ["keyPublished"] = KeyPublishedAt is not null,
            ["keyPublishedAt"] = KeyPublishedAt?.ToString("O", CultureInfo.InvariantCulture),
            ["keyPublishError"] = KeyPublishError,
            ["keyRestores"] = KeyRestores,
            ["synced"] = _reconciler.Synced,
            ["waitingFor"] = _reconciler.Synced ? null : string.Join(", ", WaitingFor),
            ["peers"] = peers,
        };
    }

    /// <summary>"kernel" or "wireguard-go".</summary>
    public static string ModeName(WireGuardImplementation implementation) => implementation == WireGuardImplementation.Kernel ? "kernel" : "wireguard-go";

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
        => Task.WhenAll(_observer.RunAsync(stoppingToken), KeepKeyPublishedAsync(stoppingToken), MarkSyncedAsync(stoppingToken));

    /// <summary>From the Node watch: a Node without our key (recreated, annotation removed or changed by someone) needs it again.</summary>
    private void OnNodeChanged(KubernetesNode? node)
    {
        if (node is null)
        {
            KeyPublishError = $"node {_options.NodeName} was deleted; the key is published again when it is back";
            return;
        }

        var annotation = node.Metadata.Annotations?.GetValueOrDefault(WireGuardKeys.PublicKeyAnnotation);
        if (Keys is { } keys && annotation != keys.PublicKey)
        {
            if (KeyPublishedAt is not null)
            {
                Log.AnnotationLost(_logger, _options.NodeName, WireGuardKeys.PublicKeyAnnotation, annotation ?? "(none)");
            }

            _publishRequests.Writer.TryWrite(true);
        }
    }

    /// <summary>Publishes the key once at start and again whenever the Node watch finds it missing or different.</summary>
    private async Task KeepKeyPublishedAsync(CancellationToken stoppingToken)
    {
        _publishRequests.Writer.TryWrite(true);
        await foreach (var _ in _publishRequests.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            var restoring = KeyPublishedAt is not null;
            if (await PublishKeyAsync(stoppingToken).ConfigureAwait(false) && restoring)
            {
                Interlocked.Increment(ref _restores);
            }

            await Task.Delay(MinRepublishInterval, _time, stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes the public key on the agent's Node (a merge patch of one annotation), retrying failures with backoff. A Node that
    /// does not exist (yet: the agent may start before its node registers; or any more) is not retried: the watch asks again when it appears.
    /// </summary>
    private async Task<bool> PublishKeyAsync(CancellationToken stoppingToken)
    {
        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { [WireGuardKeys.PublicKeyAnnotation] = Keys!.PublicKey } },
        }.ToJsonString();
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not (OperationCanceledException or KubernetesNotFoundException)),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(500),
                MaxDelay = TimeSpan.FromSeconds(30),
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    var error = args.Outcome.Exception!;
                    KeyPublishError = error.Message;
                    Log.PublishRetry(_logger, _options.NodeName, KeyPublishError, args.RetryDelay.TotalSeconds);
                    return default;
                },
            })
            .Build();
        try
        {
            await pipeline.ExecuteAsync(
                async token => await _kubernetes.PatchAsync<KubernetesNode>(null, _options.NodeName, PatchType.Merge, patch, token).ConfigureAwait(false),
                stoppingToken).ConfigureAwait(false);
        }
        catch (KubernetesNotFoundException)
        {
            KeyPublishError = $"node {_options.NodeName} does not exist (yet); the key is published when it appears";
            Log.NodeMissing(_logger, _options.NodeName);
            return false;
        }

        KeyPublishedAt = _time.GetUtcNow();
        KeyPublishError = null;
        Log.Published(_logger, _options.NodeName, WireGuardKeys.PublicKeyAnnotation, Keys.PublicKey);
        return true;
    }

    /// <summary>Once every remote cluster has delivered its nodes, the peers and routes no node claims go (a previous run's leftovers).
    /// A remote that never syncs keeps them: removing them early could cut a live tunnel; refused or removed remotes deliver nothing and are not waited for.</summary>
    private async Task MarkSyncedAsync(CancellationToken stoppingToken)
    {
        var started = _time.GetTimestamp();
        await _remoteHost.Started.WaitAsync(stoppingToken).ConfigureAwait(false);
        using var timer = new PeriodicTimer(SyncPollInterval, _time);
        while (true)
        {
            var synced = _observer.SyncedClusters.ToHashSet(StringComparer.Ordinal);
            WaitingFor = [.. _remote.GetStatus().Clusters
                .Where(c => c.State is not (RemoteClusterState.Removed or RemoteClusterState.Refused) && !synced.Contains(c.Name))
                .Select(c => c.Name)
                .Order(StringComparer.Ordinal)];
            if (WaitingFor.Count == 0)
            {
                break;
            }

            await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
        }

        // Queued behind every node change delivered so far, so the cleanup sees all of them.
        _observer.MarkSynced();
        Log.RemoteNodesSynced(_logger, _device.InterfaceName, _time.GetElapsedTime(started).TotalSeconds);
    }
}
