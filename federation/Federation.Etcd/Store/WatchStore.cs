using Federation.Etcd.Protocol;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Etcd.Store;

/// <summary>Turns the bytes of one key into a value, or says why they are not acceptable.</summary>
public delegate EntryDecodeResult<T> EntryDecoder<T>(string key, ReadOnlySpan<byte> value);

/// <summary>The outcome of decoding and validating one entry.</summary>
public readonly record struct EntryDecodeResult<T>(T? Value, string? Error)
{
    public bool IsValid => Error is null;

    public static EntryDecodeResult<T> Ok(T value) => new(value, null);

    public static EntryDecodeResult<T> Invalid(string error) => new(default, error);
}

/// <summary>Receives the changes a <see cref="WatchStore{T}"/> sees, one at a time, in order.</summary>
public interface IWatchStoreObserver<in T>
{
    void OnUpsert(string key, T value);

    void OnDelete(string key, T lastValue);

    /// <summary>The first complete listing has been applied (and the canary, if one was asked for, exists).</summary>
    void OnSynced();
}

/// <summary>Settings of one <see cref="WatchStore{T}"/>.</summary>
public sealed class WatchStoreOptions
{
    /// <summary>A name for logs and metrics, e.g. "cluster2/services".</summary>
    public string Name { get; set; } = "watch";

    /// <summary>The prefix to mirror, e.g. <c>cilium/state/services/v1/cluster2/</c>.</summary>
    public string Prefix { get; set; } = string.Empty;

    /// <summary>When set, synced is signalled only once this key exists (ClusterMesh's synced canaries).</summary>
    public string? SyncedCanaryKey { get; set; }

    /// <summary>Keys per Range call while listing.</summary>
    public int PageSize { get; set; } = 1000;

    /// <summary>Delay before re-listing after an error other than compaction (doubles up to <see cref="RetryMaxDelay"/>).</summary>
    public TimeSpan RetryMinDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Mirrors a prefix of etcd into memory and reports changes: a paged list at one pinned revision, then a
/// watch from the revision after it. On compaction (or a watch the server ends) it lists again and
/// reports deletions only for keys the complete new listing no longer has (mark and sweep). Every entry
/// is decoded and validated; bad ones are logged once per key, counted, and never applied.
/// </summary>
public sealed partial class WatchStore<T> where T : class
{
    private readonly IEtcdClient _client;
    private readonly WatchStoreOptions _options;
    private readonly EntryDecoder<T> _decode;
    private readonly IWatchStoreObserver<T> _observer;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _apply = new(1, 1);
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _invalid = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly KeyValuePair<string, object?> _storeTag;
    private long _revision;
    private long _invalidCount;
    private long _relists;
    private string? _lastError;

    public WatchStore(
        IEtcdClient client, WatchStoreOptions options, EntryDecoder<T> decode, IWatchStoreObserver<T> observer,
        ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.Prefix, "WatchStoreOptions.Prefix");
        _client = client;
        _options = options;
        _decode = decode;
        _observer = observer;
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _storeTag = new("store", options.Name);
    }

    /// <summary>Completes after the first complete listing (and the canary, when one is configured).</summary>
    public Task Synced => _synced.Task;

    /// <summary>Lists and watches until cancelled. Errors are logged and lead to a re-list with backoff; it never throws except on cancellation.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var delay = _options.RetryMinDelay;
        var first = true;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var revision = await ListAsync(cancellationToken).ConfigureAwait(false);
                if (first)
                {
                    first = false;
                    _ = SignalSyncedAsync(revision, cancellationToken);
                }

                delay = _options.RetryMinDelay;
                await WatchAsync(revision, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RevisionCompactedException ex)
            {
                Log.Compacted(_logger, _options.Name, ex.CompactRevision);
                continue;
            }
            catch (Exception ex) when (ex is EtcdException or IOException)
            {
                _lastError = ex.Message;
                Log.Failed(_logger, _options.Name, ex.Message, delay.TotalMilliseconds);
            }

            try
            {
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.RetryMaxDelay.Ticks));
        }
    }

    /// <summary>Reports every known entry as deleted and forgets them (e.g. when the source is removed). Safe while running.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        await _apply.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var (key, entry) in _entries)
            {
                _observer.OnDelete(key, entry.Value);
            }

            _entries.Clear();
            _invalid.Clear();
        }
        finally
        {
            _apply.Release();
        }
    }

    public WatchStoreStatus GetStatus()
        => new(_options.Name, _options.Prefix, _entries.Count, Interlocked.Read(ref _revision), _synced.Task.IsCompletedSuccessfully,
            Interlocked.Read(ref _invalidCount), Interlocked.Read(ref _relists), _lastError);

    private async Task<long> ListAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Read(ref _revision) != 0)
        {
            Interlocked.Increment(ref _relists);
            EtcdMetrics.WatchRelists.Add(1, _storeTag);
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        long revision = 0;
        await foreach (var page in _client.ListPrefixPagesAsync(_options.Prefix, _options.PageSize, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            revision = page.Revision;
            await _apply.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                foreach (var kv in page.Kvs)
                {
                    var key = kv.Key.ToStringUtf8();
                    seen.Add(key);
                    ApplyPut(key, kv.Value);
                }
            }
            finally
            {
                _apply.Release();
            }
        }

        // Sweep only now that the listing is complete: what it lacks was deleted meanwhile.
        await _apply.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var key in _entries.Keys.Where(k => !seen.Contains(k)).ToList())
            {
                ApplyDelete(key);
            }

            foreach (var key in _invalid.Keys.Where(k => !seen.Contains(k)).ToList())
            {
                _invalid.Remove(key);
            }
        }
        finally
        {
            _apply.Release();
        }

        Interlocked.Exchange(ref _revision, revision);
        Log.Listed(_logger, _options.Name, seen.Count, revision);
        return revision;
    }

    private async Task WatchAsync(long revision, CancellationToken cancellationToken)
    {
        await foreach (var response in _client.WatchPrefixAsync(_options.Prefix, revision + 1, progressNotify: true, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (response.Events.Count == 0)
            {
                continue;
            }

            await _apply.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                foreach (var ev in response.Events)
                {
                    var key = ev.Kv.Key.ToStringUtf8();
                    if (ev.Type == Event.Types.EventType.Put)
                    {
                        ApplyPut(key, ev.Kv.Value);
                    }
                    else
                    {
                        _invalid.Remove(key);
                        ApplyDelete(key);
                    }

                    Interlocked.Exchange(ref _revision, ev.Kv.ModRevision);
                }
            }
            finally
            {
                _apply.Release();
            }
        }

        // The server ended the watch without an error we understand: list again.
        throw new EtcdUnavailableException($"the watch on {_options.Prefix} ended");
    }

    private void ApplyPut(string key, ByteString raw)
    {
        if (_entries.TryGetValue(key, out var known) && known.Raw.Equals(raw))
        {
            return;
        }

        var result = _decode(key, raw.Span);
        if (!result.IsValid || result.Value is null)
        {
            Interlocked.Increment(ref _invalidCount);
            EtcdMetrics.WatchInvalidEntries.Add(1, _storeTag);
            var error = result.Error ?? "decoder returned no value";
            _lastError = $"{key}: {error}";
            if (!_invalid.TryGetValue(key, out var previous) || previous != error)
            {
                // Once per key and reason: a remote that keeps writing garbage must not flood the log.
                _invalid[key] = error;
                Log.InvalidEntry(_logger, _options.Name, key, error);
            }

            return;
        }

        _invalid.Remove(key);
        _entries[key] = new Entry(raw, result.Value);
        _observer.OnUpsert(key, result.Value);
    }

    private void ApplyDelete(string key)
    {
        if (_entries.Remove(key, out var entry))
        {
            _observer.OnDelete(key, entry.Value);
        }
    }

    private async Task SignalSyncedAsync(long listedRevision, CancellationToken cancellationToken)
    {
        try
        {
            if (_options.SyncedCanaryKey is { } canary)
            {
                await WaitForKeyAsync(canary, listedRevision, cancellationToken).ConfigureAwait(false);
            }

            await _apply.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                _observer.OnSynced();
            }
            finally
            {
                _apply.Release();
            }

            _synced.TrySetResult();
            Log.Synced(_logger, _options.Name);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task WaitForKeyAsync(string key, long revision, CancellationToken cancellationToken)
    {
        var delay = _options.RetryMinDelay;
        while (true)
        {
            try
            {
                var current = await _client.GetAsync(key, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (current is not null)
                {
                    return;
                }

                Log.WaitingForCanary(_logger, _options.Name, key);
                var request = new WatchCreateRequest { Key = ByteString.CopyFromUtf8(key), StartRevision = revision + 1 };
                await foreach (var response in _client.WatchAsync(request, cancellationToken).ConfigureAwait(false))
                {
                    if (response.Events.Any(e => e.Type == Event.Types.EventType.Put))
                    {
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is EtcdException or IOException)
            {
                // A compacted or broken canary watch: look again.
                revision = 0;
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.RetryMaxDelay.Ticks));
            }
        }
    }

    private sealed record Entry(ByteString Raw, T Value);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Watch store {Store}: listed {Count} entries at revision {Revision}")]
        public static partial void Listed(ILogger logger, string store, int count, long revision);

        [LoggerMessage(2, LogLevel.Information, "Watch store {Store}: revision compacted (now {Revision}); re-listing")]
        public static partial void Compacted(ILogger logger, string store, long revision);

        [LoggerMessage(3, LogLevel.Warning, "Watch store {Store}: {Reason}; re-listing in {DelayMs:0}ms")]
        public static partial void Failed(ILogger logger, string store, string reason, double delayMs);

        [LoggerMessage(4, LogLevel.Warning, "Watch store {Store}: skipping invalid entry {Key}: {Reason}")]
        public static partial void InvalidEntry(ILogger logger, string store, string key, string reason);

        [LoggerMessage(5, LogLevel.Information, "Watch store {Store}: synced")]
        public static partial void Synced(ILogger logger, string store);

        [LoggerMessage(6, LogLevel.Debug, "Watch store {Store}: waiting for synced canary {Key}")]
        public static partial void WaitingForCanary(ILogger logger, string store, string key);
    }
}

/// <summary>A snapshot of a <see cref="WatchStore{T}"/>.</summary>
public sealed record WatchStoreStatus(string Name, string Prefix, int Entries, long Revision, bool Synced, long InvalidEntries, long Relists, string? LastError);
