using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json.Nodes;
using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.HighAvailability;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Store;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Informers;
using Federation.Kubernetes.Models;
using K8sNode = Federation.Kubernetes.Models.Node;

namespace Federation.ClusterMesh.ApiServer.Identities;

/// <summary>
/// Allocates security identities for pods and exports them with the pods' IP entries:
/// <c>cilium/state/identities/v1/id/&lt;id&gt;</c> and <c>cilium/state/ip/v1/default/&lt;ip&gt;</c>.
/// Informers on Pods, Namespaces and Nodes run always (warm caches); while this replica leads, pod keys are
/// reconciled one at a time into two <see cref="SyncStore"/>s.
/// </summary>
/// <remarks>
/// Identity keys are not swept through an owned prefix: <c>cilium/state/identities/v1/id/</c> has no cluster in its
/// path, so only ids inside this cluster's range are treated as ours (left-overs in the range are deleted after the
/// initial export, ids of other ranges are never touched). The ip prefix <c>cilium/state/ip/v1/default/</c> is owned
/// wholly: one apiserver per etcd writes it, as in Cilium.
/// </remarks>
internal sealed partial class IdentityExporter : BackgroundService, IStatusContributor
{
    private const string ExporterName = "identities";
    private const string GcKey = "\0gc";
    private const string InitialKeyPrefix = "\0initial-";
    private static volatile IdentityExporter? s_current;

    private readonly IEtcdClient _etcd;
    private readonly ApiServerOptions _options;
    private readonly IdentityExportOptions _exportOptions;
    private readonly ILeadership _leadership;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger<IdentityExporter> _logger;
    private readonly Informer<Pod> _pods;
    private readonly Informer<Namespace> _namespaces;
    private readonly Informer<K8sNode> _nodes;
    private readonly KeyedWorkQueue _queue = new();
    private readonly IdentityRange _range;

    // Owned by the reconcile loop (one term at a time); other threads read only the counters below.
    private readonly Dictionary<string, PodExport> _podExports = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _unusedSince = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _ipOwners = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string?> _reportedInvalid = new(StringComparer.Ordinal);
    private IdentityAllocator? _allocator;
    private SyncStore? _identityStore;
    private SyncStore? _ipStore;

    private volatile bool _identitiesSynced;
    private volatile bool _ipSynced;
    private volatile string? _lastError;
    private int _allocatedCount;
    private int _ipCount;
    private int _term;

    static IdentityExporter()
    {
        ApiServerMetrics.Gauge(
            "federation_clustermesh_identities_allocated", "Security identities allocated by this cluster (in use or within the release grace period).",
            () => s_current is { } e ? [new Measurement<long>(Volatile.Read(ref e._allocatedCount))] : []);
        ApiServerMetrics.Gauge(
            "federation_clustermesh_ip_entries", "Pod IP entries exported to cilium/state/ip/v1.",
            () => s_current is { } e ? [new Measurement<long>(Volatile.Read(ref e._ipCount))] : []);
        ApiServerMetrics.Gauge(
            "federation_clustermesh_identity_queue_size", "Pod keys waiting to be reconciled by the identity exporter.",
            () => s_current is { } e ? [new Measurement<long>(e._queue.Count)] : []);
    }

    public IdentityExporter(
        IEtcdClient etcd,
        IKubernetesClient kubernetes,
        ApiServerOptions options,
        IdentityExportOptions exportOptions,
        ILeadership leadership,
        ExportReadiness readiness,
        TimeProvider time,
        ILoggerFactory loggerFactory)
    {
        _etcd = etcd;
        _options = options;
        _exportOptions = exportOptions;
        _leadership = leadership;
        _time = time;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<IdentityExporter>();
        _range = ClusterIdentity.GetIdentityRange(options.ClusterId, options.MaxConnectedClusters);
        var informerLogger = loggerFactory.CreateLogger<Informer<Pod>>();
        _pods = new Informer<Pod>(kubernetes, new InformerOptions { Name = "identities/pods" }, new PodObserver(this), informerLogger, time);
        _namespaces = new Informer<Namespace>(kubernetes, new InformerOptions { Name = "identities/namespaces" }, new NamespaceObserver(this), informerLogger, time);
        _nodes = new Informer<K8sNode>(kubernetes, new InformerOptions { Name = "identities/nodes" }, new NodeObserver(this), informerLogger, time);
        readiness.Register("identities", () => _identitiesSynced);
        readiness.Register("ip", () => _ipSynced);
        s_current = this;
    }

    public string Name => "identities";

    public JsonNode GetStatus() => new JsonObject
    {
        ["range"] = _range.ToString(),
        ["allocatedIdentities"] = Volatile.Read(ref _allocatedCount),
        ["ipEntries"] = Volatile.Read(ref _ipCount),
        ["identitiesSynced"] = _identitiesSynced,
        ["ipSynced"] = _ipSynced,
        ["queued"] = _queue.Count,
        ["informersSynced"] = _pods.GetStatus().Synced && _namespaces.GetStatus().Synced && _nodes.GetStatus().Synced,
        ["lastError"] = _lastError,
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var informers = Task.WhenAll(_pods.RunAsync(stoppingToken), _namespaces.RunAsync(stoppingToken), _nodes.RunAsync(stoppingToken));
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
                catch (EtcdException ex)
                {
                    _lastError = ex.Message;
                    LogTermFailed(ex.Message);
                    await Task.Delay(_exportOptions.RetryDelay, _time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await informers.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task LeadAsync(CancellationToken cancellationToken)
    {
        var cluster = _options.ClusterName;
        await using var identities = new SyncStore(
            _etcd,
            new SyncStoreOptions { Name = "identities", SyncedCanaryKey = ClusterMeshKeys.StateSyncedCanary(ClusterMeshKind.Identities, cluster), LeaseTtl = _options.LeaseTtl, Workers = KeyedExporter.ExportWorkers },
            _loggerFactory.CreateLogger<SyncStore>(),
            _time);
        await using var ips = new SyncStore(
            _etcd,
            new SyncStoreOptions
            {
                Name = "ip",
                OwnedPrefix = $"{ClusterMeshKeys.IpPrefix}/{ClusterMeshKeys.IpAddressSpace}/",
                SyncedCanaryKey = ClusterMeshKeys.StateSyncedCanary(ClusterMeshKind.Ips, cluster),
                LeaseTtl = _options.LeaseTtl,
                Workers = KeyedExporter.ExportWorkers,
            },
            _loggerFactory.CreateLogger<SyncStore>(),
            _time);
        try
        {
            await identities.StartAsync(cancellationToken).ConfigureAwait(false);
            await ips.StartAsync(cancellationToken).ConfigureAwait(false);
            ResetState();
            var allocator = new IdentityAllocator(_etcd, _exportOptions.AllocationPrefix, cluster, _range);
            await allocator.LoadAsync(cancellationToken).ConfigureAwait(false);
            (_allocator, _identityStore, _ipStore) = (allocator, identities, ips);

            // Pods are reconciled as the pod list arrives (labels need the namespaces, host IPs the nodes); the
            // term's marker key, queued once the pod list is complete, comes after every listed pod in the queue.
            await Task.WhenAll(_namespaces.Synced, _nodes.Synced).WaitAsync(cancellationToken).ConfigureAwait(false);

            // Every allocation is exported until released: in use, or unused and waiting out the grace period.
            var now = _time.GetUtcNow();
            foreach (var (labels, id) in allocator.Allocations)
            {
                _unusedSince[labels] = now;
                identities.Upsert(ClusterMeshKeys.Identity(id), Encoding.UTF8.GetBytes(labels));
            }

            var initialKey = InitialKeyPrefix + Interlocked.Increment(ref _term).ToString(System.Globalization.CultureInfo.InvariantCulture);
            QueuePodsWhere(static _ => true);
            _ = QueueWhenPodsListedAsync(initialKey, cancellationToken);
            await ProcessQueueAsync(initialKey, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _identitiesSynced = false;
            _ipSynced = false;
            (_allocator, _identityStore, _ipStore) = (null, null, null);

            // Leases are kept, not revoked: the next leader rewrites the keys without a visible gap.
            await identities.StopAsync(revokeLeases: false, CancellationToken.None).ConfigureAwait(false);
            await ips.StopAsync(revokeLeases: false, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task QueueWhenPodsListedAsync(string initialKey, CancellationToken cancellationToken)
    {
        try
        {
            await _pods.Synced.WaitAsync(cancellationToken).ConfigureAwait(false);
            _queue.Add(initialKey);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The pods of the initial listing are all reconciled: sweep left-over identities, let the stores write their canaries.</summary>
    private async Task CompleteInitialExportAsync(CancellationToken cancellationToken)
    {
        var identities = _identityStore!;
        var ips = _ipStore!;
        await SweepIdentitiesAsync(cancellationToken).ConfigureAwait(false);
        identities.MarkInitialSyncDone();
        ips.MarkInitialSyncDone();
        LogInitialExport(_allocator!.Allocations.Count, _ipOwners.Count);
        _ = MarkSyncedAsync(identities, () => _identitiesSynced = true, cancellationToken);
        _ = MarkSyncedAsync(ips, () => _ipSynced = true, cancellationToken);
        _ = TickCollectorAsync(cancellationToken);
    }

    private async Task ProcessQueueAsync(string initialKey, CancellationToken cancellationToken)
    {
        while (true)
        {
            var key = await _queue.TakeAsync(cancellationToken).ConfigureAwait(false);
            var retry = false;
            try
            {
                if (key == GcKey)
                {
                    await CollectUnusedAsync(cancellationToken).ConfigureAwait(false);
                }
                else if (key.StartsWith(InitialKeyPrefix, StringComparison.Ordinal))
                {
                    // A marker of an earlier term is stale; this term's completes the initial export.
                    if (key == initialKey)
                    {
                        await CompleteInitialExportAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                else
                {
                    await ReconcileAsync(key, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (EtcdException ex)
            {
                _lastError = $"{key}: {ex.Message}";
                LogReconcileFailed(key, ex.Message);
                retry = true;
            }
            finally
            {
                _queue.Done(key);
            }

            if (retry)
            {
                _ = RequeueLaterAsync(key, cancellationToken);
            }
        }
    }

    private async Task RequeueLaterAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(_exportOptions.RetryDelay, _time, cancellationToken).ConfigureAwait(false);
            _queue.Add(key);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task TickCollectorAsync(CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromTicks(Math.Clamp(_exportOptions.ReleaseGracePeriod.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(30).Ticks));
        try
        {
            while (true)
            {
                await Task.Delay(interval, _time, cancellationToken).ConfigureAwait(false);
                _queue.Add(GcKey);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task MarkSyncedAsync(SyncStore store, Action onSynced, CancellationToken cancellationToken)
    {
        try
        {
            await store.Synced.WaitAsync(cancellationToken).ConfigureAwait(false);
            onSynced();
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void ResetState()
    {
        _podExports.Clear();
        _users.Clear();
        _unusedSince.Clear();
        _ipOwners.Clear();
        _reportedInvalid.Clear();
        Volatile.Write(ref _allocatedCount, 0);
        Volatile.Write(ref _ipCount, 0);
    }

    private async Task ReconcileAsync(string podKey, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var slash = podKey.IndexOf('/', StringComparison.Ordinal);
        PodExport? desired = null;
        if (slash > 0 && _pods.TryGet(podKey[..slash], podKey[(slash + 1)..], out var pod))
        {
            desired = await DesiredAsync(podKey, pod, cancellationToken).ConfigureAwait(false);
        }

        var ipStore = _ipStore!;
        _podExports.TryGetValue(podKey, out var old);
        if (old is not null)
        {
            foreach (var ip in old.Entries.Keys)
            {
                if ((desired is null || !desired.Entries.ContainsKey(ip)) && _ipOwners.TryGetValue(ip, out var owner) && owner == podKey)
                {
                    _ipOwners.Remove(ip);
                    ipStore.Delete(ClusterMeshKeys.Ip(ip));
                }
            }
        }

        if (desired is not null)
        {
            foreach (var (ip, value) in desired.Entries)
            {
                // Overlapping IPs: the pod reconciled last holds the entry.
                _ipOwners[ip] = podKey;
                ipStore.Upsert(ClusterMeshKeys.Ip(ip), value);
            }

            Use(desired.Labels, podKey);
            _podExports[podKey] = desired;
        }
        else
        {
            _podExports.Remove(podKey);
        }

        if (old is not null && old.Labels != desired?.Labels)
        {
            Unuse(old.Labels, podKey);
        }

        Volatile.Write(ref _ipCount, _ipOwners.Count);
        Volatile.Write(ref _allocatedCount, _allocator!.Allocations.Count);
        ApiServerMetrics.ReconcileDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("exporter", ExporterName));
    }

    private async Task<PodExport?> DesiredAsync(string podKey, Pod pod, CancellationToken cancellationToken)
    {
        if (pod.Status?.Phase != "Running" || pod.Spec?.HostNetwork == true)
        {
            // Not an endpoint of its own: pending/finished pods, and host-network pods (they carry the host identity).
            return null;
        }

        var nsName = pod.Metadata.Namespace ?? string.Empty;
        if (!_namespaces.TryGet(null, nsName, out var ns))
        {
            // Exported when the namespace arrives (its events requeue its pods).
            return null;
        }

        var global = IdentityLabelRules.IsGlobal(ns);
        if (global is null)
        {
            ReportInvalid(nsName, ns.Metadata.ResourceVersion, "bad-global-annotation", $"annotation {IdentityLabelRules.GlobalNamespaceAnnotation} is neither \"true\" nor \"false\"; treated as true");
        }

        if (global == false)
        {
            return null;
        }

        var ips = new List<string>();
        var texts = pod.Status.PodIPs is { Count: > 0 } list ? list.Select(p => p.Ip) : [pod.Status.PodIP];
        foreach (var text in texts)
        {
            if (string.IsNullOrEmpty(text))
            {
                continue;
            }

            if (GoIPText.TryParse(text, out var address))
            {
                var formatted = GoIPText.Format(address);
                if (!ips.Contains(formatted, StringComparer.Ordinal))
                {
                    ips.Add(formatted);
                }
            }
            else
            {
                ReportInvalid(podKey, pod.Metadata.ResourceVersion, "bad-pod-ip", $"pod IP \"{text}\" is not an IP address");
            }
        }

        if (ips.Count == 0)
        {
            ReportInvalid(podKey, pod.Metadata.ResourceVersion, "no-pod-ip", "the pod is Running but has no usable pod IP");
            return null;
        }

        var labels = IdentityLabelRules.ForPod(pod, ns, _options.ClusterName).Format();
        var id = await _allocator!.GetOrAllocateAsync(labels, cancellationToken).ConfigureAwait(false);
        if (id is null)
        {
            _lastError = $"identity range {_range} exhausted; {podKey} not exported";
            LogRangeExhausted(_range.ToString(), podKey);
            return null;
        }

        var hostIp = NodeInternalIp(pod.Spec?.NodeName)
            ?? (pod.Status.HostIP is { } h && GoIPText.TryParse(h, out var hostAddress) ? GoIPText.Format(hostAddress) : string.Empty);
        var namedPorts = pod.Spec?.Containers
            .SelectMany(c => c.Ports ?? [])
            .Where(p => !string.IsNullOrEmpty(p.Name) && p.ContainerPort is > 0 and <= ushort.MaxValue)
            .Select(p => new NamedPort { Name = p.Name!, Port = (ushort)p.ContainerPort, Protocol = p.Protocol ?? "TCP" })
            .ToList();
        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var ip in ips)
        {
            entries[ip] = ClusterMeshJson.Serialize(new IPIdentityPair
            {
                IP = ip,
                HostIP = hostIp,
                Id = id.Value,
                Key = 0,
                Metadata = string.Empty,
                K8sNamespace = nsName,
                K8sPodName = pod.Metadata.Name ?? string.Empty,
                K8sPodUid = pod.Metadata.Uid ?? string.Empty,
                K8sServiceAccount = IdentityLabelRules.ServiceAccountOf(pod) ?? string.Empty,
                NamedPorts = namedPorts is { Count: > 0 } ? [.. namedPorts] : null,
            });
        }

        return new PodExport(labels, id.Value, entries);
    }

    private string? NodeInternalIp(string? nodeName)
    {
        if (string.IsNullOrEmpty(nodeName) || !_nodes.TryGet(null, nodeName, out var node) || node.Status?.Addresses is not { } addresses)
        {
            return null;
        }

        string? fallback = null;
        foreach (var address in addresses)
        {
            if (address.Type == "InternalIP" && GoIPText.TryParse(address.Address, out var ip))
            {
                if (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
                {
                    return GoIPText.Format(ip);
                }

                fallback ??= GoIPText.Format(ip);
            }
        }

        return fallback;
    }

    private void Use(string labels, string podKey)
    {
        if (!_users.TryGetValue(labels, out var users))
        {
            _users[labels] = users = new HashSet<string>(StringComparer.Ordinal);
        }

        users.Add(podKey);
        _unusedSince.Remove(labels);
        if (_allocator!.Allocations.TryGetValue(labels, out var id))
        {
            _identityStore!.Upsert(ClusterMeshKeys.Identity(id), Encoding.UTF8.GetBytes(labels));
        }
    }

    private void Unuse(string labels, string podKey)
    {
        if (_users.TryGetValue(labels, out var users) && users.Remove(podKey) && users.Count == 0)
        {
            _users.Remove(labels);
            _unusedSince[labels] = _time.GetUtcNow();
        }
    }

    private async Task CollectUnusedAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var expired = _unusedSince.Where(u => now - u.Value >= _exportOptions.ReleaseGracePeriod).Select(u => u.Key).ToList();
        foreach (var labels in expired)
        {
            if (_allocator!.Allocations.TryGetValue(labels, out var id))
            {
                _identityStore!.Delete(ClusterMeshKeys.Identity(id));
                await _allocator.ReleaseAsync(labels, id, cancellationToken).ConfigureAwait(false);
                LogReleased(id, labels);
            }

            _unusedSince.Remove(labels);
        }

        Volatile.Write(ref _allocatedCount, _allocator!.Allocations.Count);
    }

    private async Task SweepIdentitiesAsync(CancellationToken cancellationToken)
    {
        var ours = _allocator!.Allocations.Values.ToHashSet();
        var listing = await _etcd.ListPrefixAsync(ClusterMeshKeys.IdentitiesPrefix + "/", keysOnly: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var kv in listing.Kvs)
        {
            var key = kv.Key.ToStringUtf8();
            if (ClusterMeshKeys.TryParseIdentityKey(key, out var id) && _range.Contains(id) && !ours.Contains(id))
            {
                await _etcd.DeleteAsync(key, cancellationToken: cancellationToken).ConfigureAwait(false);
                LogSweptLeftover(key);
            }
        }
    }

    private void ReportInvalid(string objectKey, string? resourceVersion, string reason, string message)
    {
        var marker = reason + "@" + resourceVersion;
        if (_reportedInvalid.TryGetValue(objectKey, out var reported) && reported == marker)
        {
            return;
        }

        _reportedInvalid[objectKey] = marker;
        ApiServerMetrics.InvalidObjects.Add(1, new KeyValuePair<string, object?>("exporter", ExporterName), new KeyValuePair<string, object?>("reason", reason));
        LogInvalid(objectKey, reason, message);
    }

    private void QueuePodsWhere(Func<Pod, bool> predicate)
    {
        foreach (var pod in _pods.List())
        {
            if (predicate(pod))
            {
                _queue.Add(Informer<Pod>.KeyOf(pod));
            }
        }
    }

    /// <summary>What one pod exports: its identity's label string and id, and its ip entries (IP text → value bytes).</summary>
    private sealed record PodExport(string Labels, uint Id, IReadOnlyDictionary<string, byte[]> Entries);

    private sealed class PodObserver(IdentityExporter exporter) : IInformerObserver<Pod>
    {
        public void OnAdd(Pod item) => exporter._queue.Add(Informer<Pod>.KeyOf(item));

        public void OnUpdate(Pod oldItem, Pod newItem) => exporter._queue.Add(Informer<Pod>.KeyOf(newItem));

        public void OnDelete(Pod lastKnown) => exporter._queue.Add(Informer<Pod>.KeyOf(lastKnown));
    }

    private sealed class NamespaceObserver(IdentityExporter exporter) : IInformerObserver<Namespace>
    {
        public void OnAdd(Namespace item) => Requeue(item);

        public void OnUpdate(Namespace oldItem, Namespace newItem) => Requeue(newItem);

        public void OnDelete(Namespace lastKnown) => Requeue(lastKnown);

        private void Requeue(Namespace ns) => exporter.QueuePodsWhere(p => p.Metadata.Namespace == ns.Metadata.Name);
    }

    private sealed class NodeObserver(IdentityExporter exporter) : IInformerObserver<K8sNode>
    {
        public void OnAdd(K8sNode item) => Requeue(item);

        public void OnUpdate(K8sNode oldItem, K8sNode newItem) => Requeue(newItem);

        public void OnDelete(K8sNode lastKnown) => Requeue(lastKnown);

        private void Requeue(K8sNode node) => exporter.QueuePodsWhere(p => p.Spec?.NodeName == node.Metadata.Name);
    }
}
