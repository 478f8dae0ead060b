using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.Etcd.Store;
using Federation.Kubernetes.Models;
using Federation.Lab.ApiServer.Storage;

namespace Federation.Lab.ApiServer.Controllers;

/// <summary>
/// Keeps the EndpointSlices of every Service with a selector equal to what <see cref="EndpointSliceBuilder"/>
/// computes from the Pods of its namespace. Watches Services and Pods through the store, queues the affected
/// Service keys (deduplicated), and reconciles one key at a time: create, update or delete the slices it
/// manages (label <c>endpointslice.kubernetes.io/managed-by</c>), retrying a failed key with backoff.
/// </summary>
internal sealed partial class EndpointSliceController : BackgroundService
{
    private static readonly TimeSpan RetryMin = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan RetryMax = TimeSpan.FromSeconds(10);

    private readonly ObjectStore _store;
    private readonly ILogger<EndpointSliceController> _logger;
    private readonly TimeProvider _time;
    private readonly KeyedWorkQueue _queue = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Service> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, Pod>> _podsByNamespace = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _servicesSynced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _podsSynced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public EndpointSliceController(ObjectStore store, ILogger<EndpointSliceController> logger, TimeProvider? timeProvider = null)
    {
        _store = store;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Completes once both caches hold a complete listing.</summary>
    public Task Synced => Task.WhenAll(_servicesSynced.Task, _podsSynced.Task);

    /// <summary>Reconciles done since start; for tests and status.</summary>
    public long Reconciles => Interlocked.Read(ref _reconciles);

    private long _reconciles;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var services = FollowAsync(LabResources.Services, OnServiceEvent, _servicesSynced, stoppingToken);
        var pods = FollowAsync(LabResources.Pods, OnPodEvent, _podsSynced, stoppingToken);
        try
        {
            await Synced.WaitAsync(stoppingToken).ConfigureAwait(false);
            LogSynced(_services.Count);
            lock (_gate)
            {
                foreach (var key in _services.Keys)
                {
                    _queue.Add(key);
                }
            }

            await Task.WhenAll(ReconcileLoopAsync(stoppingToken), services, pods).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // A controller that stops silently leaves slices stale without anyone knowing.
            LogCrashed(ex);
            throw;
        }
    }

    /// <summary>Lists and watches one type for ever; after a compaction re-lists and synthesises deletions for what is gone.</summary>
    private async Task FollowAsync(ResourceType type, Action<StoreWatchEventType, JsonObject?, JsonObject> onEvent, TaskCompletionSource synced, CancellationToken cancellationToken)
    {
        var known = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        long? after = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            var listing = after is null ? new HashSet<string>(StringComparer.Ordinal) : null;
            try
            {
                await foreach (var change in _store.WatchAsync(type, null, after, cancellationToken: cancellationToken).ConfigureAwait(false))
                {
                    switch (change.Type)
                    {
                        case StoreWatchEventType.Synced:
                            foreach (var gone in known.Keys.Where(k => !listing!.Contains(k)).ToList())
                            {
                                onEvent(StoreWatchEventType.Deleted, known[gone], known[gone]);
                                known.Remove(gone);
                            }

                            listing = null;
                            after = change.Revision;
                            synced.TrySetResult();
                            break;
                        case StoreWatchEventType.Expired:
                            LogRelisting(type.Resource, change.Revision);
                            after = null;
                            break;
                        case StoreWatchEventType.Deleted:
                            var deletedKey = KeyOf(change.Object!);
                            known.Remove(deletedKey, out var last);
                            onEvent(StoreWatchEventType.Deleted, last, change.Object!);
                            after = change.Revision;
                            break;
                        default:
                            var key = KeyOf(change.Object!);
                            listing?.Add(key);
                            known.TryGetValue(key, out var previous);
                            known[key] = change.Object!;
                            onEvent(change.Type, previous, change.Object!);
                            if (listing is null)
                            {
                                after = change.Revision;
                            }

                            break;
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is Etcd.EtcdException or IOException)
            {
                LogWatchFailed(type.Resource, ex.Message);
                await Task.Delay(RetryMin * 10, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private void OnServiceEvent(StoreWatchEventType type, JsonObject? previous, JsonObject current)
    {
        var service = current.Deserialize(Service.JsonTypeInfo)!;
        var key = KeyOf(current);
        lock (_gate)
        {
            if (type == StoreWatchEventType.Deleted)
            {
                _services.Remove(key);
            }
            else
            {
                _services[key] = service;
            }
        }

        _queue.Add(key);
    }

    private void OnPodEvent(StoreWatchEventType type, JsonObject? previous, JsonObject current)
    {
        var pod = current.Deserialize(Pod.JsonTypeInfo)!;
        var before = previous?.Deserialize(Pod.JsonTypeInfo);
        var ns = pod.Metadata.Namespace ?? "default";
        List<string> affected;
        lock (_gate)
        {
            if (!_podsByNamespace.TryGetValue(ns, out var pods))
            {
                pods = new Dictionary<string, Pod>(StringComparer.Ordinal);
                _podsByNamespace[ns] = pods;
            }

            if (type == StoreWatchEventType.Deleted)
            {
                pods.Remove(pod.Metadata.Name!);
            }
            else
            {
                pods[pod.Metadata.Name!] = pod;
            }

            // A label change can move a Pod from one Service to another: both must look again.
            affected = [.. _services
                .Where(s => s.Value.Metadata.Namespace == ns && s.Value.Spec?.Selector is { Count: > 0 } selector
                    && (EndpointSliceBuilder.Selects(selector, pod) || (before is not null && EndpointSliceBuilder.Selects(selector, before))))
                .Select(s => s.Key)];
        }

        foreach (var key in affected)
        {
            _queue.Add(key);
        }
    }

    private async Task ReconcileLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var key = await _queue.TakeAsync(cancellationToken).ConfigureAwait(false);
            TimeSpan? retry = null;
            try
            {
                await ReconcileAsync(key, cancellationToken).ConfigureAwait(false);
                Interlocked.Increment(ref _reconciles);
                lock (_gate)
                {
                    _failures.Remove(key);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                int attempt;
                lock (_gate)
                {
                    attempt = _failures[key] = _failures.GetValueOrDefault(key) + 1;
                }

                retry = TimeSpan.FromTicks(Math.Min(RetryMin.Ticks << Math.Min(attempt - 1, 16), RetryMax.Ticks));
                LogReconcileFailed(key, attempt, ex.Message);
            }

            _queue.Done(key);
            if (retry is { } delay)
            {
                _ = RequeueAsync(key, delay, cancellationToken);
            }
        }
    }

    private async Task RequeueAsync(string key, TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            _queue.Add(key);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = SplitKey(key);
        IReadOnlyList<EndpointSlice>? desired;
        lock (_gate)
        {
            desired = _services.TryGetValue(key, out var service)
                ? EndpointSliceBuilder.Build(service, _podsByNamespace.TryGetValue(ns, out var pods) ? pods.Values.ToList() : [])
                : null;
        }

        var existing = await _store.ListAsync(
            LabResources.EndpointSlices,
            ns,
            new ListRequest(Filter: o => Label(o, EndpointSliceBuilder.ServiceNameLabel) == name && Label(o, EndpointSliceBuilder.ManagedByLabel) == EndpointSliceBuilder.ManagedByValue),
            cancellationToken).ConfigureAwait(false);
        if (!existing.Succeeded)
        {
            throw new InvalidOperationException($"listing the slices of {key} failed: {existing.Message}");
        }

        var actual = existing.Items.ToDictionary(o => o["metadata"]!["name"]!.GetValue<string>(), o => o, StringComparer.Ordinal);
        foreach (var slice in desired ?? [])
        {
            var sliceName = slice.Metadata.Name!;
            StoreResult result;
            if (actual.Remove(sliceName, out var current))
            {
                var currentSlice = current.Deserialize(EndpointSlice.JsonTypeInfo)!;
                if (EndpointSliceBuilder.SameContent(slice, currentSlice))
                {
                    continue;
                }

                var update = slice with { Metadata = slice.Metadata with { ResourceVersion = currentSlice.Metadata.ResourceVersion, Uid = currentSlice.Metadata.Uid } };
                result = await _store.UpdateAsync(LabResources.EndpointSlices, ToJson(update), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                result = await _store.CreateAsync(LabResources.EndpointSlices, ToJson(slice), cancellationToken).ConfigureAwait(false);
            }

            if (!result.Succeeded)
            {
                throw new InvalidOperationException($"writing EndpointSlice {ns}/{sliceName} failed: {result.Outcome}: {result.Message}");
            }

            LogSliceWritten(ns, sliceName, slice.Endpoints?.Count ?? 0);
        }

        foreach (var stale in actual.Keys)
        {
            var result = await _store.DeleteAsync(LabResources.EndpointSlices, ns, stale, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded && result.Outcome != StoreOutcome.NotFound)
            {
                throw new InvalidOperationException($"deleting EndpointSlice {ns}/{stale} failed: {result.Outcome}: {result.Message}");
            }

            LogSliceDeleted(ns, stale);
        }
    }

    private static JsonObject ToJson(EndpointSlice slice) => JsonSerializer.SerializeToNode(slice, EndpointSlice.JsonTypeInfo)!.AsObject();

    private static string? Label(JsonObject o, string label) => o["metadata"]?["labels"]?[label]?.GetValue<string>();

    private static string KeyOf(JsonObject o)
        => $"{o["metadata"]?["namespace"]?.GetValue<string>() ?? string.Empty}/{o["metadata"]!["name"]!.GetValue<string>()}";

    private static (string Namespace, string Name) SplitKey(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return (key[..slash], key[(slash + 1)..]);
    }

    [LoggerMessage(1, LogLevel.Information, "EndpointSlice controller synced: {Services} services")]
    private partial void LogSynced(int services);

    [LoggerMessage(2, LogLevel.Warning, "EndpointSlice controller: reconciling {Service} failed (attempt {Attempt}): {Reason}")]
    private partial void LogReconcileFailed(string service, int attempt, string reason);

    [LoggerMessage(3, LogLevel.Debug, "EndpointSlice {Namespace}/{Slice} written with {Endpoints} endpoints")]
    private partial void LogSliceWritten(string @namespace, string slice, int endpoints);

    [LoggerMessage(4, LogLevel.Debug, "EndpointSlice {Namespace}/{Slice} deleted")]
    private partial void LogSliceDeleted(string @namespace, string slice);

    [LoggerMessage(5, LogLevel.Information, "EndpointSlice controller: {Resource} watch compacted at {Revision}; re-listing")]
    private partial void LogRelisting(string resource, long revision);

    [LoggerMessage(6, LogLevel.Warning, "EndpointSlice controller: {Resource} watch failed: {Reason}; retrying")]
    private partial void LogWatchFailed(string resource, string reason);

    [LoggerMessage(7, LogLevel.Critical, "EndpointSlice controller stopped unexpectedly")]
    private partial void LogCrashed(Exception exception);
}
