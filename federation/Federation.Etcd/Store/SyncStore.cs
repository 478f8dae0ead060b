using System.Diagnostics;
using System.Threading.RateLimiting;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Protocol;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Etcd.Store;

/// <summary>
/// Keeps a set of keys in etcd equal to a desired state. Callers say what each key should hold
/// (<see cref="Upsert"/>, <see cref="Delete"/>); workers write only what differs from what this store last
/// wrote, one writer per key at a time, retrying with per-key backoff. Keys queued together are written
/// together, in one etcd transaction of up to <see cref="SyncStoreOptions.MaxBatchSize"/> puts and deletes. Keys live on leases (a new lease
/// every <see cref="SyncStoreOptions.MaxKeysPerLease"/> keys); keys of a lost lease are written again.
/// Once <see cref="MarkInitialSyncDone"/> was called and everything before it is written, left-overs under
/// the owned prefix are deleted and the synced canary is written.
/// </summary>
public sealed partial class SyncStore : IAsyncDisposable
{
    private readonly IEtcdClient _client;
    private readonly SyncStoreOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly KeyedWorkQueue _queue = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, byte[]> _desired = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]?> _written = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _failures = new(StringComparer.Ordinal);

    // When each key's oldest change not yet in etcd was handed in (for the lag histogram).
    private readonly Dictionary<string, long> _changedAt = new(StringComparer.Ordinal);
    private readonly StoreLeases _leases;
    private readonly RateLimiter? _rateLimiter;
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly KeyValuePair<string, object?> _storeTag;
    private Task[] _workers = [];
    private Task? _enforcer;
    private bool _initialSyncMarked;
    private bool _canaryQueued;
    private long _writes;
    private long _errors;
    private string? _lastError;

    public SyncStore(IEtcdClient client, SyncStoreOptions options, ILogger<SyncStore>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _client = client;
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _storeTag = new("store", options.Name);
        _leases = new StoreLeases(client, options.LeaseTtl, options.MaxKeysPerLease, OnLeaseLost, _logger);
        if (options.MaxWritesPerSecond > 0)
        {
            _rateLimiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = options.MaxWritesPerSecond,
                TokensPerPeriod = options.MaxWritesPerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = int.MaxValue,
                AutoReplenishment = true,
            });
        }
    }

    /// <summary>Completes once the initial sync has been fully written (and the canary, if any).</summary>
    public Task Synced => _synced.Task;

    /// <summary>Starts the writers. Lists the owned prefix first so left-overs can be swept after the initial sync.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.OwnedPrefix is { } prefix)
        {
            var existing = await _client.ListPrefixAsync(prefix, keysOnly: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                foreach (var kv in existing.Kvs)
                {
                    // Unknown value, on someone else's lease: written again if desired, deleted if not.
                    _written.TryAdd(kv.Key.ToStringUtf8(), null);
                }
            }

            if (_options.Enforce)
            {
                _enforcer = Task.Run(() => EnforceAsync(prefix, existing.Revision, _stopping.Token), CancellationToken.None);
            }
        }

        _workers = [.. Enumerable.Range(0, _options.Workers).Select(_ => Task.Run(() => WorkAsync(_stopping.Token), CancellationToken.None))];
    }

    /// <summary>Desired value of a key. A no-op when the key already holds exactly these bytes.</summary>
    public void Upsert(string key, ReadOnlySpan<byte> value)
    {
        lock (_gate)
        {
            if (_desired.TryGetValue(key, out var current) && current.AsSpan().SequenceEqual(value))
            {
                return;
            }

            _desired[key] = value.ToArray();
            _changedAt.TryAdd(key, Stopwatch.GetTimestamp());
        }

        _queue.Add(key);
    }

    /// <summary>The key should not exist.</summary>
    public void Delete(string key)
    {
        lock (_gate)
        {
            if (!_desired.Remove(key))
            {
                return;
            }

            _changedAt.TryAdd(key, Stopwatch.GetTimestamp());
        }

        _queue.Add(key);
    }

    /// <summary>The caller has upserted its complete initial state.</summary>
    public void MarkInitialSyncDone()
    {
        lock (_gate)
        {
            if (_initialSyncMarked)
            {
                return;
            }

            _initialSyncMarked = true;
            foreach (var key in _written.Keys)
            {
                if (!_desired.ContainsKey(key))
                {
                    _queue.Add(key);
                }
            }
        }

        MaybeQueueCanary();
    }

    /// <summary>What the store holds and how writing goes.</summary>
    public SyncStoreStatus GetStatus()
    {
        lock (_gate)
        {
            return new SyncStoreStatus(
                _options.Name, _desired.Count, _queue.Count, Interlocked.Read(ref _writes), Interlocked.Read(ref _errors),
                _leases.LeaseCount, _synced.Task.IsCompletedSuccessfully, _lastError)
            {
                Entries = _desired.Count - (_options.SyncedCanaryKey is { } canary && _desired.ContainsKey(canary) ? 1 : 0),
            };
        }
    }

    /// <summary>Stops writing; with <paramref name="revokeLeases"/> the written keys are removed from etcd too.</summary>
    public async Task StopAsync(bool revokeLeases, CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _queue.Complete();
        foreach (var worker in _workers)
        {
            await worker.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (_enforcer is not null)
        {
            await _enforcer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await _leases.ShutdownAsync(revokeLeases, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await StopAsync(revokeLeases: false, CancellationToken.None).ConfigureAwait(false);
        }

        _rateLimiter?.Dispose();
        _stopping.Dispose();
    }

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        List<string> taken = new(_options.MaxBatchSize);
        List<string> fresh = new(_options.MaxBatchSize);
        List<string> single = new(1);
        while (!cancellationToken.IsCancellationRequested)
        {
            taken.Clear();
            try
            {
                taken.Add(await _queue.TakeAsync(cancellationToken).ConfigureAwait(false));
            }
            catch (Exception ex) when (ex is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
            {
                return;
            }

            // Whatever else is already queued goes into the same request, up to the batch size.
            while (taken.Count < _options.MaxBatchSize && _queue.TryTake(out var more))
            {
                taken.Add(more);
            }

            // A key whose last write failed is written alone, so one bad key cannot hold up the others.
            fresh.Clear();
            lock (_gate)
            {
                foreach (var key in taken)
                {
                    if (!_failures.ContainsKey(key))
                    {
                        fresh.Add(key);
                    }
                }
            }

            if (!await ProcessAsync(fresh, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            foreach (var key in taken)
            {
                if (fresh.Contains(key))
                {
                    continue;
                }

                single.Clear();
                single.Add(key);
                if (!await ProcessAsync(single, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
    }

    /// <summary>Writes one batch and settles its keys in the queue; false when the store is stopping.</summary>
    private async Task<bool> ProcessAsync(List<string> keys, CancellationToken cancellationToken)
    {
        if (keys.Count == 0)
        {
            return true;
        }

        Exception? failure = null;
        try
        {
            await ReconcileAsync(keys, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Whatever failed, these keys are retried and the worker lives on: a dead worker would
            // leave the keys "processing" forever.
            failure = ex;
            Interlocked.Increment(ref _errors);
            EtcdMetrics.SyncErrors.Add(1, _storeTag);
            if (ex is LeaseNotFoundException)
            {
                // Our idea of a lease is stale: drop the leases of the batch, their keys are requeued.
                ForgetLeasesOf(keys);
            }
        }

        var empty = false;
        foreach (var key in keys)
        {
            if (failure is null)
            {
                lock (_gate)
                {
                    _failures.Remove(key);
                }

                empty = _queue.Done(key);
                continue;
            }

            int attempt;
            lock (_gate)
            {
                attempt = _failures[key] = _failures.GetValueOrDefault(key) + 1;
                _lastError = failure is EtcdException ? $"{key}: {failure.Message}" : $"{key}: {failure.GetType().Name}: {failure.Message}";
            }

            var retryAfter = Backoff(attempt);
            if (key == keys[0])
            {
                Log.WriteFailed(_logger, _options.Name, key, keys.Count, attempt, retryAfter.TotalMilliseconds, failure.Message);
            }

            _queue.Done(key);
            _ = RequeueLaterAsync(key, retryAfter, cancellationToken);
        }

        if (empty)
        {
            MaybeQueueCanary();
        }

        return true;
    }

    private async Task ReconcileAsync(List<string> keys, CancellationToken cancellationToken)
    {
        // What each key needs: a put of its desired bytes, a delete, or nothing.
        List<(string Key, byte[]? Value)> changes = new(keys.Count);
        lock (_gate)
        {
            foreach (var key in keys)
            {
                _desired.TryGetValue(key, out var desired);
                var known = _written.TryGetValue(key, out var written);
                if (desired is null)
                {
                    if (known)
                    {
                        changes.Add((key, null));
                    }
                    else
                    {
                        _changedAt.Remove(key);
                    }
                }
                else if (written is null || !written.AsSpan().SequenceEqual(desired))
                {
                    changes.Add((key, desired));
                }
                else
                {
                    // Changed and changed back before it was written: nothing to write, nothing pending.
                    _changedAt.Remove(key);
                }
            }
        }

        var offset = 0;
        while (offset < changes.Count)
        {
            // One request per chunk of at most MaxBatchBytes of values (etcd caps a request's size).
            var count = 0;
            var bytes = 0;
            while (offset + count < changes.Count && (count == 0 || bytes + (changes[offset + count].Value?.Length ?? 0) <= _options.MaxBatchBytes))
            {
                bytes += changes[offset + count].Value?.Length ?? 0;
                count++;
            }

            await WriteAsync(changes.GetRange(offset, count), cancellationToken).ConfigureAwait(false);
            offset += count;
        }
    }

    private async Task WriteAsync(List<(string Key, byte[]? Value)> changes, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var txn = new TxnRequest();
        foreach (var (key, value) in changes)
        {
            if (value is null)
            {
                txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(key) } });
            }
            else
            {
                var leaseId = await _leases.AcquireAsync(key, cancellationToken).ConfigureAwait(false);
                txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(value), Lease = leaseId } });
            }
        }

        await WaitForRateLimitAsync(changes.Count, cancellationToken).ConfigureAwait(false);
        switch (txn.Success)
        {
            // A lone change goes as a plain Put or DeleteRange. etcd 3.4 applies every Txn through a concurrent read
            // view whose setup copies the backend's whole write buffer (sized by the largest batch since start, not by
            // what is pending), which made single-key Txns after a large initial sync cost milliseconds each to apply
            // and let the apply loop fall seconds behind under steady churn. Plain writes skip that view.
            case [{ RequestPut: { } put }]:
                await _client.PutAsync(put, cancellationToken).ConfigureAwait(false);
                break;
            case [{ RequestDeleteRange: { } delete }]:
                await _client.DeleteRangeAsync(delete, cancellationToken).ConfigureAwait(false);
                break;
            default:
                await _client.TxnAsync(txn, cancellationToken).ConfigureAwait(false);
                break;
        }
        var canaryWritten = false;
        var now = Stopwatch.GetTimestamp();
        List<double>? lags = null;
        lock (_gate)
        {
            foreach (var (key, value) in changes)
            {
                if (value is null)
                {
                    _written.Remove(key);
                }
                else
                {
                    _written[key] = value;
                    canaryWritten |= key == _options.SyncedCanaryKey;
                }

                // Settled only if what was written is still what is wanted; a newer change keeps the older time.
                var desired = _desired.GetValueOrDefault(key);
                if ((desired is null ? value is null : value is not null && desired.AsSpan().SequenceEqual(value)) && _changedAt.Remove(key, out var changedAt))
                {
                    (lags ??= []).Add(Stopwatch.GetElapsedTime(changedAt, now).TotalSeconds);
                }
            }
        }

        foreach (var lag in lags ?? [])
        {
            EtcdMetrics.SyncLag.Record(lag, _storeTag);
        }

        foreach (var (key, value) in changes)
        {
            if (value is null)
            {
                _leases.Release(key);
            }
        }

        Interlocked.Add(ref _writes, changes.Count);
        EtcdMetrics.SyncWrites.Add(changes.Count, _storeTag);
        EtcdMetrics.SyncWriteDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, _storeTag);
        if (canaryWritten && _synced.TrySetResult())
        {
            Log.Synced(_logger, _options.Name, _options.SyncedCanaryKey!);
        }
    }

    private void MaybeQueueCanary()
    {
        lock (_gate)
        {
            // A key whose write failed is out of the queue while it waits for its retry: it still counts.
            if (!_initialSyncMarked || _canaryQueued || _queue.Count > 0 || _failures.Count > 0)
            {
                return;
            }

            _canaryQueued = true;
        }

        if (_options.SyncedCanaryKey is { } canary)
        {
            // The canary is a desired key like the others: a lost lease writes it again.
            Upsert(canary, System.Text.Encoding.UTF8.GetBytes(ClusterMeshTimestamp.Format(_time.GetUtcNow())));
        }
        else if (_synced.TrySetResult())
        {
            Log.Synced(_logger, _options.Name, "(no canary)");
        }
    }

    private void OnLeaseLost(IReadOnlyCollection<string> keys)
    {
        lock (_gate)
        {
            foreach (var key in keys)
            {
                _written.Remove(key);
            }
        }

        foreach (var key in keys)
        {
            _queue.Add(key);
        }
    }

    private void ForgetLeasesOf(List<string> keys)
    {
        // A write failed with "lease not found": one of the leases the batch used is gone, and etcd does
        // not say which. Dropping a live one only costs re-writing its keys on a fresh lease.
        HashSet<long> leases = [];
        foreach (var key in keys)
        {
            if (_leases.LeaseOf(key) is { } leaseId && leases.Add(leaseId))
            {
                _leases.OnLost(leaseId);
            }
        }
    }

    private async Task RequeueLaterAsync(string key, TimeSpan delay, CancellationToken cancellationToken)
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

    private async Task EnforceAsync(string prefix, long revision, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var response in _client.WatchPrefixAsync(prefix, revision + 1, cancellationToken: cancellationToken).ConfigureAwait(false))
                {
                    foreach (var ev in response.Events)
                    {
                        revision = ev.Kv.ModRevision;
                        var key = ev.Kv.Key.ToStringUtf8();
                        bool foreign;
                        lock (_gate)
                        {
                            foreign = _desired.TryGetValue(key, out var desired)
                                && (ev.Type == Event.Types.EventType.Delete || !ev.Kv.Value.Span.SequenceEqual(desired));
                            if (foreign)
                            {
                                _written.Remove(key);
                            }
                        }

                        if (foreign)
                        {
                            Log.Enforcing(_logger, _options.Name, key);
                            _queue.Add(key);
                        }
                    }
                }
            }
            catch (RevisionCompactedException ex)
            {
                // Missed events: compare everything desired against a fresh listing.
                revision = await ResyncEnforcedAsync(prefix, cancellationToken).ConfigureAwait(false);
                Log.EnforceRelisted(_logger, _options.Name, ex.CompactRevision);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (EtcdException ex)
            {
                Log.WriteFailed(_logger, _options.Name, prefix, 0, 0, 0, ex.Message);
                await Task.Delay(_options.RetryMinDelay, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task<long> ResyncEnforcedAsync(string prefix, CancellationToken cancellationToken)
    {
        var listing = await _client.ListPrefixAsync(prefix, cancellationToken: cancellationToken).ConfigureAwait(false);
        var actual = listing.Kvs.ToDictionary(kv => kv.Key.ToStringUtf8(), kv => kv.Value.ToByteArray(), StringComparer.Ordinal);
        List<string> stale = [];
        lock (_gate)
        {
            foreach (var (key, desired) in _desired)
            {
                if (!actual.TryGetValue(key, out var value) || !value.AsSpan().SequenceEqual(desired))
                {
                    _written.Remove(key);
                    stale.Add(key);
                }
            }
        }

        foreach (var key in stale)
        {
            _queue.Add(key);
        }

        return listing.Revision;
    }

    private async ValueTask WaitForRateLimitAsync(int writes, CancellationToken cancellationToken)
    {
        if (_rateLimiter is null)
        {
            return;
        }

        // A batch takes one token per key, in pieces no larger than the bucket.
        while (writes > 0)
        {
            var take = Math.Min(writes, _options.MaxWritesPerSecond);
            using var lease = await _rateLimiter.AcquireAsync(take, cancellationToken).ConfigureAwait(false);
            writes -= take;
        }
    }

    private TimeSpan Backoff(int attempt)
    {
        var baseDelay = _options.RetryMinDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 20));
        var capped = Math.Min(baseDelay, _options.RetryMaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Store {Store}: writing {Key} ({Keys} key(s) in the request) failed (attempt {Attempt}), retrying in {DelayMs:0}ms: {Reason}")]
        public static partial void WriteFailed(ILogger logger, string store, string key, int keys, int attempt, double delayMs, string reason);

        [LoggerMessage(2, LogLevel.Information, "Store {Store}: initial sync written, canary {Canary}")]
        public static partial void Synced(ILogger logger, string store, string canary);

        [LoggerMessage(3, LogLevel.Warning, "Store {Store}: {Key} was changed or deleted by someone else; writing it back")]
        public static partial void Enforcing(ILogger logger, string store, string key);

        [LoggerMessage(4, LogLevel.Information, "Store {Store}: enforcement watch compacted at {Revision}; re-listed")]
        public static partial void EnforceRelisted(ILogger logger, string store, long revision);
    }
}

/// <summary>A snapshot of a <see cref="SyncStore"/>.</summary>
public sealed record SyncStoreStatus(string Name, int DesiredKeys, int QueuedKeys, long Writes, long Errors, int Leases, bool Synced, string? LastError)
{
    /// <summary>The desired keys without the synced canary: the entries the store mirrors.</summary>
    public int Entries { get; init; }
}
