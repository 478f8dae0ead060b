using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using Federation.ClusterMesh.ApiServer.HighAvailability;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Store;

namespace Federation.ClusterMesh.ApiServer.Export;

/// <summary>
/// The reconciler loop shared by the exporters: informers (always running, warm caches) queue object keys,
/// one worker reconciles a key at a time into the desired etcd value, and while this replica leads a
/// <see cref="SyncStore"/> writes it. Each leadership term gets a new store: every key is recomputed from the
/// caches and upserted before <see cref="SyncStore.MarkInitialSyncDone"/>; losing the lead stops the store
/// without revoking leases, so the next leader takes the keys over without visible deletions.
/// </summary>
/// <remarks>Lives here rather than in Export/ only because this change may not touch Export/; it belongs there.</remarks>
internal abstract partial class KeyedExporter : BackgroundService, IStatusContributor
{
    private static readonly ConcurrentDictionary<KeyedExporter, bool> Live = new();
    private static readonly ConcurrentDictionary<string, bool> GaugesRegistered = new(StringComparer.Ordinal);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>Writes in flight per store: an initial export of tens of thousands of keys is bound by etcd round trips.</summary>
    internal const int ExportWorkers = 64;

    private readonly IEtcdClient _etcd;
    private readonly ILeadership _leadership;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly KeyedWorkQueue _queue = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, string> _exported = new(StringComparer.Ordinal);
    private readonly KeyValuePair<string, object?> _exporterTag;
    private SyncStore? _store;
    private volatile string? _lastError;
    private volatile bool _synced;

    protected KeyedExporter(string name, ClusterMeshKind kind, IEtcdClient etcd, ApiServerOptions options, ILeadership leadership, ExportReadiness readiness, ILoggerFactory loggerFactory)
    {
        Name = name;
        Kind = kind;
        Options = options;
        _etcd = etcd;
        _leadership = leadership;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger(GetType());
        _exporterTag = new("exporter", name);
        readiness.Register(name, () => _synced);
        if (GaugesRegistered.TryAdd(name, true))
        {
            ApiServerMetrics.Gauge(
                $"federation_clustermesh_exported_{name}",
                $"Keys of kind {name} this replica holds as desired state in etcd.",
                () => Live.Keys.Where(e => e.Name == name).Select(e => new Measurement<long>(e.ExportedCount, new KeyValuePair<string, object?>("cluster", e.Options.ClusterName))));
        }
    }

    /// <summary>The exporter's name: the readiness part, the status section, the metric tag.</summary>
    public string Name { get; }

    protected ClusterMeshKind Kind { get; }

    protected ApiServerOptions Options { get; }

    /// <summary>Keys currently exported (desired in etcd).</summary>
    public int ExportedCount
    {
        get
        {
            lock (_gate)
            {
                return _exported.Count;
            }
        }
    }

    /// <summary>Whether the current leadership term's initial sync (and canary) is written.</summary>
    public bool Synced => _synced;

    /// <summary>Starts the informers (run until <paramref name="cancellationToken"/> is cancelled).</summary>
    protected abstract Task RunInformersAsync(CancellationToken cancellationToken);

    /// <summary>Completes when every informer has its first complete list.</summary>
    protected abstract Task InformersSynced { get; }

    /// <summary>Every object key the caches know of (the etcd keys exported so far are added by the caller).</summary>
    protected abstract IEnumerable<string> CachedKeys();

    /// <summary>The etcd key and desired value of an object key; value null: the key must not exist.</summary>
    protected abstract (string EtcdKey, byte[]? Value) Compute(string key);

    /// <summary>Queues an object key for reconciling.</summary>
    protected void Enqueue(string key) => _queue.Add(key);

    public JsonNode GetStatus()
    {
        SyncStoreStatus? store;
        lock (_gate)
        {
            store = _store?.GetStatus();
        }

        return new JsonObject
        {
            ["exported"] = ExportedCount,
            ["synced"] = _synced,
            ["queued"] = _queue.Count,
            ["writing"] = store is not null,
            ["writes"] = store?.Writes,
            ["lastError"] = _lastError ?? store?.LastError,
        };
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Live[this] = true;
        try
        {
            var informers = RunInformersAsync(stoppingToken);
            var worker = WorkAsync(stoppingToken);
            var writer = WriteWhileLeadingAsync(stoppingToken);
            await Task.WhenAll(informers, worker, writer).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // An exporter that stops silently leaves etcd stale without anyone knowing.
            LogCrashed(_logger, Name, ex);
            throw;
        }
        finally
        {
            Live.TryRemove(this, out _);
        }
    }

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            string key;
            try
            {
                key = await _queue.TakeAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                Reconcile(key);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A bug for one object must not stop the others: logged, counted, and left as it was.
                _lastError = ex.Message;
                LogReconcileFailed(_logger, Name, key, ex);
            }
            finally
            {
                _queue.Done(key);
            }
        }
    }

    private void Reconcile(string key)
    {
        var started = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            // Computed under the lock so a term's full pass and the worker never apply an older computation last.
            var (etcdKey, value) = Compute(key);
            if (value is null)
            {
                if (_exported.Remove(key))
                {
                    _store?.Delete(etcdKey);
                }
            }
            else
            {
                _exported[key] = etcdKey;
                _store?.Upsert(etcdKey, value);
            }
        }

        ApiServerMetrics.ReconcileDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, _exporterTag);
    }

    private async Task WriteWhileLeadingAsync(CancellationToken stoppingToken)
    {
        await InformersSynced.WaitAsync(stoppingToken).ConfigureAwait(false);
        LogCachesSynced(_logger, Name);
        while (!stoppingToken.IsCancellationRequested)
        {
            var term = await _leadership.WaitForLeadershipAsync(stoppingToken).ConfigureAwait(false);
            using var leading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, term);
            var cluster = Options.ClusterName;
            await using var store = new SyncStore(
                _etcd,
                new SyncStoreOptions
                {
                    Name = Name,
                    OwnedPrefix = $"{Kind.StatePrefix()}/{cluster}/",
                    SyncedCanaryKey = ClusterMeshKeys.StateSyncedCanary(Kind, cluster),
                    LeaseTtl = Options.LeaseTtl,
                    Workers = ExportWorkers,
                },
                _loggerFactory.CreateLogger<SyncStore>());
            try
            {
                await store.StartAsync(leading.Token).ConfigureAwait(false);
                lock (_gate)
                {
                    _store = store;
                    // The whole desired state, recomputed from the warm caches, before the initial sync is marked.
                    foreach (var key in CachedKeys().Concat([.. _exported.Keys]).Distinct(StringComparer.Ordinal).ToList())
                    {
                        Reconcile(key);
                    }

                    store.MarkInitialSyncDone();
                }

                LogLeading(_logger, Name, ExportedCount);
                await store.Synced.WaitAsync(leading.Token).ConfigureAwait(false);
                _synced = true;
                _lastError = null;
                await Task.Delay(Timeout.Infinite, leading.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (leading.IsCancellationRequested)
            {
            }
            catch (EtcdException ex)
            {
                _lastError = ex.Message;
                LogWriteFailed(_logger, Name, ex.Message);
                await Task.Delay(RetryDelay, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            finally
            {
                lock (_gate)
                {
                    _store = null;
                }

                _synced = false;
                // Leases are kept, not revoked: the next leader rewrites the keys without a visible gap.
                await store.StopAsync(revokeLeases: false, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Exporter {Exporter}: Kubernetes caches synced")]
    private static partial void LogCachesSynced(ILogger logger, string exporter);

    [LoggerMessage(2, LogLevel.Information, "Exporter {Exporter}: leading, initial state of {Count} keys handed to etcd")]
    private static partial void LogLeading(ILogger logger, string exporter, int count);

    [LoggerMessage(3, LogLevel.Warning, "Exporter {Exporter}: writing to etcd failed: {Reason}; retrying")]
    private static partial void LogWriteFailed(ILogger logger, string exporter, string reason);

    [LoggerMessage(4, LogLevel.Error, "Exporter {Exporter}: reconciling {Key} failed")]
    private static partial void LogReconcileFailed(ILogger logger, string exporter, string key, Exception exception);

    [LoggerMessage(5, LogLevel.Critical, "Exporter {Exporter} stopped unexpectedly")]
    private static partial void LogCrashed(ILogger logger, string exporter, Exception exception);
}
