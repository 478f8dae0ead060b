using Microsoft.Extensions.Logging;

namespace Federation.Etcd.Store;

/// <summary>
/// The leases a writer attaches its keys to: at most <c>maxKeysPerLease</c> keys on one lease (a new lease
/// is granted beyond that), each kept alive. When etcd reports a lease gone, the keys on it are handed to
/// <c>onLost</c> so they are written again on a fresh lease.
/// </summary>
internal sealed partial class StoreLeases : IAsyncDisposable
{
    private readonly IEtcdClient _client;
    private readonly TimeSpan _ttl;
    private readonly int _maxKeysPerLease;
    private readonly Action<IReadOnlyCollection<string>> _onLost;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _grantLock = new(1, 1);
    private readonly Lock _gate = new();
    private readonly Dictionary<long, Entry> _leases = [];
    private readonly Dictionary<string, long> _keyLease = new(StringComparer.Ordinal);
    private Entry? _current;

    public StoreLeases(IEtcdClient client, TimeSpan ttl, int maxKeysPerLease, Action<IReadOnlyCollection<string>> onLost, ILogger logger)
    {
        _client = client;
        _ttl = ttl;
        _maxKeysPerLease = maxKeysPerLease;
        _onLost = onLost;
        _logger = logger;
    }

    public int LeaseCount
    {
        get
        {
            lock (_gate)
            {
                return _leases.Count;
            }
        }
    }

    /// <summary>The lease the key is on, or a lease with room for it.</summary>
    public async ValueTask<long> AcquireAsync(string key, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_keyLease.TryGetValue(key, out var existing))
            {
                return existing;
            }

            if (TryTakeSlot(key) is { } id)
            {
                return id;
            }
        }

        await _grantLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                // Another writer may have granted one while this one waited.
                if (TryTakeSlot(key) is { } id)
                {
                    return id;
                }
            }

            var keepAlive = await _client.GrantAndKeepAliveAsync(_ttl, cancellationToken).ConfigureAwait(false);
            var entry = new Entry(keepAlive);
            lock (_gate)
            {
                _leases[keepAlive.LeaseId] = entry;
                _current = entry;
                Log.LeaseGranted(_logger, keepAlive.LeaseId, (long)_ttl.TotalSeconds);
                entry.Keys.Add(key);
                _keyLease[key] = keepAlive.LeaseId;
            }

            keepAlive.Lost.Register(() => OnLost(keepAlive.LeaseId));
            return keepAlive.LeaseId;
        }
        finally
        {
            _grantLock.Release();
        }
    }

    public long? LeaseOf(string key)
    {
        lock (_gate)
        {
            return _keyLease.TryGetValue(key, out var id) ? id : null;
        }
    }

    /// <summary>The key was deleted: its slot on the lease is free again.</summary>
    public void Release(string key)
    {
        lock (_gate)
        {
            if (_keyLease.Remove(key, out var id) && _leases.TryGetValue(id, out var entry))
            {
                entry.Keys.Remove(key);
            }
        }
    }

    /// <summary>etcd said the lease does not exist (e.g. a put failed with "lease not found").</summary>
    public void OnLost(long leaseId)
    {
        Entry? entry;
        lock (_gate)
        {
            if (!_leases.Remove(leaseId, out entry))
            {
                return;
            }

            if (ReferenceEquals(_current, entry))
            {
                _current = null;
            }

            foreach (var key in entry.Keys)
            {
                _keyLease.Remove(key);
            }
        }

        Log.LeaseLost(_logger, leaseId, entry.Keys.Count);
        _ = entry.KeepAlive.DisposeAsync();
        _onLost([.. entry.Keys]);
    }

    private long? TryTakeSlot(string key)
    {
        if (_current is { } current && !current.KeepAlive.IsLost && current.Keys.Count < _maxKeysPerLease)
        {
            current.Keys.Add(key);
            _keyLease[key] = current.KeepAlive.LeaseId;
            return current.KeepAlive.LeaseId;
        }

        return null;
    }

    /// <summary>Stops the keep-alives and, when asked, revokes the leases (which deletes every key on them).</summary>
    public async ValueTask ShutdownAsync(bool revoke, CancellationToken cancellationToken)
    {
        Entry[] entries;
        lock (_gate)
        {
            entries = [.. _leases.Values];
            _leases.Clear();
            _keyLease.Clear();
            _current = null;
        }

        foreach (var entry in entries)
        {
            await entry.KeepAlive.DisposeAsync().ConfigureAwait(false);
            if (revoke)
            {
                try
                {
                    await _client.LeaseRevokeAsync(entry.KeepAlive.LeaseId, cancellationToken).ConfigureAwait(false);
                }
                catch (EtcdException ex)
                {
                    Log.RevokeFailed(_logger, entry.KeepAlive.LeaseId, ex.Message);
                }
            }
        }
    }

    public ValueTask DisposeAsync() => ShutdownAsync(revoke: false, CancellationToken.None);

    private sealed class Entry(LeaseKeepAlive keepAlive)
    {
        public LeaseKeepAlive KeepAlive { get; } = keepAlive;

        public HashSet<string> Keys { get; } = new(StringComparer.Ordinal);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Granted lease {LeaseId:x} with TTL {TtlSeconds}s")]
        public static partial void LeaseGranted(ILogger logger, long leaseId, long ttlSeconds);

        [LoggerMessage(2, LogLevel.Warning, "Lease {LeaseId:x} was lost; re-writing its {Keys} keys on a new lease")]
        public static partial void LeaseLost(ILogger logger, long leaseId, int keys);

        [LoggerMessage(3, LogLevel.Warning, "Revoking lease {LeaseId:x} failed: {Reason}")]
        public static partial void RevokeFailed(ILogger logger, long leaseId, string reason);
    }
}
