using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.HighAvailability;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Store;
using Federation.Mesh.Remote;

namespace Federation.ClusterMesh.ApiServer.KvStoreMesh;

/// <summary>
/// kvstoremesh: mirrors every remote cluster of <c>--clustermesh-config</c> into this cluster's etcd, so node agents
/// read remote state through their own etcd only. Per remote it writes the remote's cluster config with
/// <c>cached: true</c>, the remote's entries under <c>cilium/cache/&lt;kind&gt;/v1/&lt;remote&gt;/</c> with the bytes read,
/// and a synced canary per kind once that kind's initial listing is written. A remote removed from the configuration
/// loses its config key at once and its cached entries after <see cref="ApiServerOptions.KvStoreMeshDrainGrace"/>.
/// </summary>
/// <remarks>
/// Runs while this replica leads (connections to remotes are opened per term). One loop owns the per-cluster
/// stores: the observer callbacks, which must not block, only queue events for it.
/// </remarks>
internal sealed partial class KvStoreMesh : BackgroundService, IStatusContributor, IRemoteClusterObserver
{
    /// <summary>The running instances (one in a process, several in tests), whose caches the gauge reports.</summary>
    private static readonly ConcurrentDictionary<KvStoreMesh, byte> s_running = new();

    private readonly IEtcdClient _etcd;
    private readonly ApiServerOptions _options;
    private readonly KvStoreMeshTuning _tuning;
    private readonly ILeadership _leadership;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger<KvStoreMesh> _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, MirroredCluster> _clusters = new(StringComparer.Ordinal);
    private Channel<MeshEvent> _events = Channel.CreateUnbounded<MeshEvent>();
    private volatile RemoteClusterManager? _manager;
    private volatile string? _lastError;

    static KvStoreMesh()
    {
        ApiServerMetrics.Gauge(
            "federation_clustermesh_kvstoremesh_cached_entries",
            "Entries kvstoremesh holds in the local etcd cache, by remote cluster and kind.",
            () => s_running.Keys.SelectMany(m => m.CachedEntryMeasurements()).ToList());
    }

    public KvStoreMesh(
        IEtcdClient etcd, ApiServerOptions options, KvStoreMeshTuning tuning, ILeadership leadership, TimeProvider time, ILoggerFactory loggerFactory)
    {
        _etcd = etcd;
        _options = options;
        _tuning = tuning;
        _leadership = leadership;
        _time = time;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<KvStoreMesh>();
    }

    public string Name => "kvstoremesh";

    public JsonNode GetStatus()
    {
        var status = new JsonObject
        {
            ["enabled"] = _options.ClusterMeshConfig is not null,
            ["configDirectory"] = _options.ClusterMeshConfig,
            ["lastError"] = _lastError,
        };
        if (_manager is { } manager)
        {
            var remotes = manager.GetStatus();
            status["remotes"] = JsonSerializer.SerializeToNode(remotes, RemoteClusterStatusJsonContext.Default.RemoteClustersStatus);
        }

        var cache = new JsonObject();
        lock (_gate)
        {
            foreach (var (name, cluster) in _clusters.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                var kinds = new JsonObject();
                foreach (var (kind, store) in cluster.Stores)
                {
                    var s = store.GetStatus();
                    kinds[kind.ToString().ToLowerInvariant()] = new JsonObject { ["entries"] = s.Entries, ["queued"] = s.QueuedKeys, ["synced"] = s.Synced, ["lastError"] = s.LastError };
                }

                cache[name] = new JsonObject { ["draining"] = cluster.Draining, ["kinds"] = kinds };
            }
        }

        status["cache"] = cache;
        return status;
    }

    public void OnClusterConfig(string cluster, CiliumClusterConfig config) => Post(new MeshEvent(EventKind.Config, cluster, default, string.Empty, null, config));

    public void OnUpsert(string cluster, ClusterMeshKind kind, string key, ReadOnlyMemory<byte> value, object decoded)
    {
        if (ClusterMeshKeys.TryMapToCacheKey(kind, cluster, key, out var cacheKey))
        {
            Post(new MeshEvent(EventKind.Upsert, cluster, kind, cacheKey, value.ToArray(), null));
        }
    }

    public void OnDelete(string cluster, ClusterMeshKind kind, string key)
    {
        if (ClusterMeshKeys.TryMapToCacheKey(kind, cluster, key, out var cacheKey))
        {
            Post(new MeshEvent(EventKind.Delete, cluster, kind, cacheKey, null, null));
        }
    }

    public void OnSynced(string cluster, ClusterMeshKind kind) => Post(new MeshEvent(EventKind.Synced, cluster, kind, string.Empty, null, null));

    public void OnRemoved(string cluster) => Post(new MeshEvent(EventKind.Removed, cluster, default, string.Empty, null, null));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.ClusterMeshConfig is null)
        {
            return;
        }

        s_running.TryAdd(this, 0);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var term = await _leadership.WaitForLeadershipAsync(stoppingToken).ConfigureAwait(false);
                using var leading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, term);
                try
                {
                    await LeadAsync(leading.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (leading.IsCancellationRequested)
                {
                }
                catch (Exception ex) when (ex is EtcdException or IOException or ArgumentException)
                {
                    // ArgumentException: the remote cluster options were refused (named in the message).
                    _lastError = ex.Message;
                    LogTermFailed(ex.Message);
                    await Task.Delay(_tuning.RetryDelay, _time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            s_running.TryRemove(this, out _);
        }
    }

    private async Task LeadAsync(CancellationToken cancellationToken)
    {
        var events = Channel.CreateUnbounded<MeshEvent>(new UnboundedChannelOptions { SingleReader = true });
        Volatile.Write(ref _events, events);
        await using var configs = new SyncStore(
            _etcd,
            new SyncStoreOptions { Name = "kvstoremesh/configs", LeaseTtl = _options.LeaseTtl, Workers = 2 },
            _loggerFactory.CreateLogger<SyncStore>(),
            _time);
        await configs.StartAsync(cancellationToken).ConfigureAwait(false);
        var manager = new RemoteClusterManager(RemoteOptions(), this, _loggerFactory, _time);
        try
        {
            var loop = ProcessAsync(events.Reader, configs, cancellationToken);
            await manager.StartAsync(cancellationToken).ConfigureAwait(false);
            _manager = manager;
            await SweepUnconfiguredAsync(manager, cancellationToken).ConfigureAwait(false);
            await loop.ConfigureAwait(false);
        }
        finally
        {
            _manager = null;
            await manager.DisposeAsync().ConfigureAwait(false);
            events.Writer.TryComplete();
            List<MirroredCluster> clusters;
            lock (_gate)
            {
                clusters = [.. _clusters.Values];
                _clusters.Clear();
            }

            // Leases are kept: the next leader writes the same keys again without a visible gap.
            foreach (var cluster in clusters)
            {
                await cluster.StopAsync(revokeLeases: false).ConfigureAwait(false);
            }

            await configs.StopAsync(revokeLeases: false, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private RemoteClusterOptions RemoteOptions() => new()
    {
        LocalClusterName = _options.ClusterName,
        LocalClusterId = _options.ClusterId,
        MaxConnectedClusters = _options.MaxConnectedClusters,
        ConfigDirectory = _options.ClusterMeshConfig!,
        StaleTtl = _options.RemoteStaleTtl,
        HeartbeatInterval = _options.HeartbeatInterval,
        ConfigPollInterval = _tuning.ConfigPollInterval,
        BackoffMin = _tuning.BackoffMin,
        BackoffMax = _tuning.BackoffMax,
        DialTimeout = _tuning.DialTimeout,
        MaxConcurrentInitialSyncs = _tuning.MaxConcurrentInitialSyncs,
    };

    /// <summary>Cached configs of clusters no longer configured (removed while no replica led) are drained like a removal.</summary>
    private async Task SweepUnconfiguredAsync(RemoteClusterManager manager, CancellationToken cancellationToken)
    {
        var configured = manager.GetStatus().Clusters.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var listing = await _etcd.ListPrefixAsync(ClusterMeshKeys.ClusterConfigPrefix + "/", cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var kv in listing.Kvs)
        {
            if (ClusterMeshKeys.TryParseClusterConfigKey(kv.Key.ToStringUtf8(), out var cluster)
                && cluster != _options.ClusterName
                && !configured.Contains(cluster)
                && ClusterMeshJson.TryDeserialize(kv.Value.Span, out CiliumClusterConfig? config, out _)
                && config.Capabilities.Cached)
            {
                LogLeftover(cluster);
                Post(new MeshEvent(EventKind.Removed, cluster, default, string.Empty, null, null));
            }
        }
    }

    private void Post(MeshEvent e) => Volatile.Read(ref _events).Writer.TryWrite(e);

    private async Task ProcessAsync(ChannelReader<MeshEvent> reader, SyncStore configs, CancellationToken cancellationToken)
    {
        await foreach (var e in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await ApplyAsync(e, configs, cancellationToken).ConfigureAwait(false);
            }
            catch (EtcdException ex)
            {
                // A store could not start (its listing failed): the event is retried after a pause.
                _lastError = $"{e.Cluster}: {ex.Message}";
                LogEventFailed(e.Cluster, e.Kind.ToString(), ex.Message);
                await Task.Delay(_tuning.RetryDelay, _time, cancellationToken).ConfigureAwait(false);
                Post(e);
            }
        }
    }

    private async Task ApplyAsync(MeshEvent e, SyncStore configs, CancellationToken cancellationToken)
    {
        switch (e.What)
        {
            case EventKind.Config:
            {
                var cluster = await GetOrStartAsync(e.Cluster, cancellationToken).ConfigureAwait(false);
                if (cluster.Draining)
                {
                    // Configured again within the grace period: keep what is cached.
                    cluster.Draining = false;
                    cluster.Generation++;
                    LogReadded(e.Cluster);
                }

                var cached = e.Config! with { Capabilities = e.Config!.Capabilities with { Cached = true } };
                configs.Upsert(ClusterMeshKeys.ClusterConfig(e.Cluster), ClusterMeshJson.Serialize(cached));
                break;
            }

            case EventKind.Upsert:
                (await GetOrStartAsync(e.Cluster, cancellationToken).ConfigureAwait(false)).Stores[e.Kind].Upsert(e.Key, e.Value);
                break;

            case EventKind.Delete:
                if (TryGet(e.Cluster) is { Draining: false } deleting)
                {
                    deleting.Stores[e.Kind].Delete(e.Key);
                }

                break;

            case EventKind.Synced:
                (await GetOrStartAsync(e.Cluster, cancellationToken).ConfigureAwait(false)).Stores[e.Kind].MarkInitialSyncDone();
                break;

            case EventKind.Removed:
            {
                // Readers lose the cluster at once (its config goes); its entries stay for the grace period, so
                // connections to its backends are not cut before the readers have let go of it.
                configs.Delete(ClusterMeshKeys.ClusterConfig(e.Cluster));
                await _etcd.DeleteAsync(ClusterMeshKeys.ClusterConfig(e.Cluster), cancellationToken: cancellationToken).ConfigureAwait(false);
                var cluster = TryGet(e.Cluster) ?? Add(e.Cluster, new MirroredCluster(e.Cluster, []));
                cluster.Draining = true;
                var generation = ++cluster.Generation;
                LogRemoved(e.Cluster, _options.KvStoreMeshDrainGrace.TotalSeconds);
                _ = DrainLaterAsync(e.Cluster, generation, cancellationToken);
                break;
            }

            case EventKind.Drain:
                if (TryGet(e.Cluster) is { Draining: true } draining && draining.Generation == e.Generation)
                {
                    await DrainAsync(draining, cancellationToken).ConfigureAwait(false);
                }

                break;
        }
    }

    private async Task DrainLaterAsync(string cluster, long generation, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(_options.KvStoreMeshDrainGrace, _time, cancellationToken).ConfigureAwait(false);
            Post(new MeshEvent(EventKind.Drain, cluster, default, string.Empty, null, null) { Generation = generation });
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task DrainAsync(MirroredCluster cluster, CancellationToken cancellationToken)
    {
        var count = cluster.Stores.Values.Sum(s => s.GetStatus().Entries);
        await cluster.StopAsync(revokeLeases: true).ConfigureAwait(false);

        // Keys on leases of an earlier run are not on this run's leases: delete the prefixes and canaries as well.
        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            await _etcd.DeletePrefixAsync(ClusterMeshKeys.CachePrefixFor(kind, cluster.Name), cancellationToken).ConfigureAwait(false);
            await _etcd.DeleteAsync(ClusterMeshKeys.CacheSyncedCanary(kind, cluster.Name), cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        lock (_gate)
        {
            _clusters.Remove(cluster.Name);
        }

        LogDrained(cluster.Name, count);
    }

    private MirroredCluster? TryGet(string name)
    {
        lock (_gate)
        {
            return _clusters.GetValueOrDefault(name);
        }
    }

    private MirroredCluster Add(string name, MirroredCluster cluster)
    {
        lock (_gate)
        {
            _clusters[name] = cluster;
        }

        return cluster;
    }

    private async Task<MirroredCluster> GetOrStartAsync(string name, CancellationToken cancellationToken)
    {
        if (TryGet(name) is { Stores.Count: > 0 } existing)
        {
            return existing;
        }

        var stores = new Dictionary<ClusterMeshKind, SyncStore>();
        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            var store = new SyncStore(
                _etcd,
                new SyncStoreOptions
                {
                    Name = $"kvstoremesh/{name}/{kind.ToString().ToLowerInvariant()}",
                    OwnedPrefix = ClusterMeshKeys.CachePrefixFor(kind, name),
                    SyncedCanaryKey = ClusterMeshKeys.CacheSyncedCanary(kind, name),
                    LeaseTtl = _options.LeaseTtl,
                    Workers = _tuning.WorkersPerStore,
                },
                _loggerFactory.CreateLogger<SyncStore>(),
                _time);
            await store.StartAsync(cancellationToken).ConfigureAwait(false);
            stores[kind] = store;
        }

        var previous = TryGet(name);
        var cluster = new MirroredCluster(name, stores) { Draining = previous?.Draining ?? false, Generation = previous?.Generation ?? 0 };
        return Add(name, cluster);
    }

    private IEnumerable<Measurement<long>> CachedEntryMeasurements()
    {
        List<Measurement<long>> measurements = [];
        lock (_gate)
        {
            foreach (var (name, cluster) in _clusters)
            {
                foreach (var (kind, store) in cluster.Stores)
                {
                    measurements.Add(new Measurement<long>(
                        store.GetStatus().Entries,
                        new KeyValuePair<string, object?>("cluster", name),
                        new KeyValuePair<string, object?>("kind", kind.ToString().ToLowerInvariant())));
                }
            }
        }

        return measurements;
    }

    private enum EventKind
    {
        Config,
        Upsert,
        Delete,
        Synced,
        Removed,
        Drain,
    }

    private sealed record MeshEvent(EventKind What, string Cluster, ClusterMeshKind Kind, string Key, byte[]? Value, CiliumClusterConfig? Config)
    {
        public long Generation { get; init; }
    }

    /// <summary>One remote cluster's copy in the local etcd: a store per kind (none while only draining left-overs).</summary>
    private sealed class MirroredCluster(string name, Dictionary<ClusterMeshKind, SyncStore> stores)
    {
        public string Name { get; } = name;

        public Dictionary<ClusterMeshKind, SyncStore> Stores { get; } = stores;

        public bool Draining { get; set; }

        public long Generation { get; set; }

        public async Task StopAsync(bool revokeLeases)
        {
            foreach (var store in Stores.Values)
            {
                await store.StopAsync(revokeLeases, CancellationToken.None).ConfigureAwait(false);
                await store.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
