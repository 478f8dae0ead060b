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
/// wrote, one writer per key at a time, retrying with per-key backoff. Keys live on leases (a new lease
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
                _leases.LeaseCount, _synced.Task.IsCompletedSuccessfully, _lastError);
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
        while (!cancellationToken.IsCancellationRequested)
        {
            string key;
            try
            {
                key = await _queue.TakeAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
            {
                return;
            }

            TimeSpan? retryAfter = null;
            try
            {
                await ReconcileAsync(key, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Whatever failed, this key is retried and the worker lives on: a dead worker would
                // leave the key "processing" forever.
                Interlocked.Increment(ref _errors);
                EtcdMetrics.SyncErrors.Add(1, _storeTag);
                int attempt;
                lock (_gate)
                {
                    attempt = _failures[key] = _failures.GetValueOrDefault(key) + 1;
                    _lastError = ex is EtcdException ? $"{key}: {ex.Message}" : $"{key}: {ex.GetType().Name}: {ex.Message}";
                }

                if (ex is LeaseNotFoundException)
                {
                    // Our idea of the lease is stale: drop it, the keys on it are requeued.
                    ForgetLeaseOf(key);
                }

                retryAfter = Backoff(attempt);
                Log.WriteFailed(_logger, _options.Name, key, attempt, retryAfter.Value.TotalMilliseconds, ex.Message);
            }

            var empty = _queue.Done(key);
            if (retryAfter is null)
            {
                lock (_gate)
                {
                    _failures.Remove(key);
                }
            }

            if (retryAfter is { } delay)
            {
                _ = RequeueLaterAsync(key, delay, cancellationToken);
            }
            else if (empty)
            {
                MaybeQueueCanary();
            }
        }
    }

    private async Task ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        byte[]? desired;
        bool known;
        byte[]? written;
        lock (_gate)
        {
            _desired.TryGetValue(key, out desired);
            known = _written.TryGetValue(key, out written);
        }

        if (desired is null)
        {
            if (!known)
            {
                return;
            }

            await WaitForRateLimitAsync(cancellationToken).ConfigureAwait(false);
            await _client.DeleteAsync(key, cancellationToken: cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                _written.Remove(key);
            }

            _leases.Release(key);
            Interlocked.Increment(ref _writes);
            EtcdMetrics.SyncWrites.Add(1, _storeTag);
            return;
        }

        if (written is not null && written.AsSpan().SequenceEqual(desired))
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var leaseId = await _leases.AcquireAsync(key, cancellationToken).ConfigureAwait(false);
        await WaitForRateLimitAsync(cancellationToken).ConfigureAwait(false);
        await _client.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(desired), Lease = leaseId }, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            _written[key] = desired;
        }

        Interlocked.Increment(ref _writes);
        EtcdMetrics.SyncWrites.Add(1, _storeTag);
        EtcdMetrics.SyncWriteDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, _storeTag);
        if (key == _options.SyncedCanaryKey && _synced.TrySetResult())
        {
            Log.Synced(_logger, _options.Name, key);
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

    private void ForgetLeaseOf(string key)
    {
        // A put failed with "lease not found": the lease the key was on is gone.
        if (_leases.LeaseOf(key) is { } leaseId)
        {
            _leases.OnLost(leaseId);
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
                Log.WriteFailed(_logger, _options.Name, prefix, 0, 0, ex.Message);
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

    private async ValueTask WaitForRateLimitAsync(CancellationToken cancellationToken)
    {
        if (_rateLimiter is not null)
        {
            using var lease = await _rateLimiter.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
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
        [LoggerMessage(1, LogLevel.Warning, "Store {Store}: writing {Key} failed (attempt {Attempt}), retrying in {DelayMs:0}ms: {Reason}")]
        public static partial void WriteFailed(ILogger logger, string store, string key, int attempt, double delayMs, string reason);

        [LoggerMessage(2, LogLevel.Information, "Store {Store}: initial sync written, canary {Canary}")]
        public static partial void Synced(ILogger logger, string store, string canary);

        [LoggerMessage(3, LogLevel.Warning, "Store {Store}: {Key} was changed or deleted by someone else; writing it back")]
        public static partial void Enforcing(ILogger logger, string store, string key);

        [LoggerMessage(4, LogLevel.Information, "Store {Store}: enforcement watch compacted at {Revision}; re-listed")]
        public static partial void EnforceRelisted(ILogger logger, string store, long revision);
    }
}

/// <summary>A snapshot of a <see cref="SyncStore"/>.</summary>
public sealed record SyncStoreStatus(string Name, int DesiredKeys, int QueuedKeys, long Writes, long Errors, int Leases, bool Synced, string? LastError);
