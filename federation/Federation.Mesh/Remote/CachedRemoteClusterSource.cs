using System.Collections.Immutable;
using System.Threading.Channels;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Mesh.Remote;

/// <summary>
/// A node agent's remote clusters: the copies kvstoremesh keeps in the LOCAL etcd, read through the one local
/// client. Every <c>cilium/cluster-config/&lt;cluster&gt;</c> with <c>capabilities.cached: true</c> whose cluster is
/// not ours is a remote, read in the cache layout (<c>cilium/cache/&lt;kind&gt;/v1/&lt;cluster&gt;/...</c>, gated by
/// the cache canaries) and validated as <see cref="RemoteClusterManager"/> validates a directly connected remote.
/// A cached config deleted (or no longer cached) removes its remote: <see cref="IRemoteClusterObserver.OnRemoved"/>,
/// then one delete per entry.
/// </summary>
/// <remarks>
/// Liveness: <c>cilium/.heartbeat</c> in the local etcd is the local apiserver's, and it is the liveness signal of
/// every cached remote (kvstoremesh, in that apiserver, keeps each remote's own staleness: it stops updating a lost
/// remote's cache). So when the local heartbeat stands still, all cached remotes go Failing together, keep their
/// entries, and have their services revoked after <see cref="RemoteClusterOptions.StaleTtl"/>, as for a lost remote.
/// </remarks>
public sealed partial class CachedRemoteClusterSource : IRemoteClusterSource
{
    private const string ConfigWatchPrefix = ClusterMeshKeys.ClusterConfigPrefix + "/";

    // A cached remote's connection never changes: it is always the local client.
    private const string CachedFingerprint = "cached";

    private readonly IEtcdClient _client;
    private readonly RemoteClusterOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RemoteClusterSet _remotes;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, CachedConfigEntry> _configs = new(StringComparer.Ordinal);
    private readonly Channel<bool> _trigger = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly TaskCompletionSource _configsListed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _listed;
    private CancellationTokenSource? _stop;
    private Task? _watch;
    private Task? _loop;

    /// <summary>
    /// Creates the source over <paramref name="localClient"/> (shared: never disposed here); throws
    /// <see cref="ArgumentException"/> naming every invalid option. <see cref="RemoteClusterOptions.ConfigDirectory"/> is not used.
    /// </summary>
    public CachedRemoteClusterSource(
        IEtcdClient localClient, RemoteClusterOptions options, IRemoteClusterObserver observer,
        ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(localClient);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(observer);
        options.EnsureValid();
        _client = localClient;
        _options = options;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<CachedRemoteClusterSource>();
        _time = timeProvider ?? TimeProvider.System;
        _remotes = new RemoteClusterSet(options, new SharedRemoteClusterClientProvider(localClient), observer, _loggerFactory, _time);
    }

    /// <summary>
    /// Completes once the first complete list of the cached cluster configs has been applied: from then on
    /// <see cref="GetStatus"/> names every remote there is (each still to sync). Cancelled when stopped before.
    /// </summary>
    public Task ConfigsListed => _configsListed.Task;

    /// <summary>Starts following the cached cluster configs of the local etcd (and so every cached remote) until stopped.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_stop is not null)
        {
            throw new InvalidOperationException("The cached remote cluster source is already started.");
        }

        _stop = new CancellationTokenSource();
        RemoteClusterMetrics.Register(this);
        var store = new WatchStore<CachedConfigEntry>(
            _client,
            new WatchStoreOptions
            {
                Name = "cluster-config",
                Prefix = ConfigWatchPrefix,
                RetryMinDelay = _options.BackoffMin < TimeSpan.FromMilliseconds(200) ? _options.BackoffMin : TimeSpan.FromMilliseconds(200),
                RetryMaxDelay = _options.BackoffMax,
            },
            Classify,
            new ConfigObserver(this),
            _loggerFactory.CreateLogger<WatchStore<CachedConfigEntry>>(),
            _time);
        _watch = store.RunAsync(_stop.Token);
        _loop = FollowConfigsAsync(_stop.Token);
        return Task.CompletedTask;
    }

    /// <summary>Stops following the remotes, keeping what the observer was told (no deletes).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stop is null || _stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _configsListed.TrySetCanceled(CancellationToken.None);
        foreach (var task in (Task?[])[_watch, _loop])
        {
            if (task is not null)
            {
                await task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        await _remotes.StopAsync(cancellationToken).ConfigureAwait(false);
        RemoteClusterMetrics.Unregister(this);
    }

    /// <summary>Every cached remote cluster, and every cluster config key that was rejected (as <see cref="RejectedRemoteConfig.FileName"/>), with the reason.</summary>
    public RemoteClustersStatus GetStatus() => _remotes.GetStatus();

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stop?.Dispose();
    }

    // Runs on the store's loop: what a cluster config key means for us. Never invalid for the store, so that
    // a rejected key's removal is seen too (and leaves the status).
    private EntryDecodeResult<CachedConfigEntry> Classify(string key, ReadOnlySpan<byte> value)
    {
        if (!ClusterMeshKeys.TryParseClusterConfigKey(key, out var cluster))
        {
            return EntryDecodeResult<CachedConfigEntry>.Ok(CachedConfigEntry.Reject(key, null, "not a cluster config key (cilium/cluster-config/<cluster>)"));
        }

        var name = ClusterIdentity.ValidateClusterName(cluster);
        if (!name.Ok)
        {
            return EntryDecodeResult<CachedConfigEntry>.Ok(CachedConfigEntry.Reject(key, null, $"the key does not name a valid cluster: {name.Error}"));
        }

        if (cluster == _options.LocalClusterName)
        {
            return EntryDecodeResult<CachedConfigEntry>.Ok(CachedConfigEntry.Ignore(key));
        }

        if (!ClusterMeshJson.TryDeserialize(value, out CiliumClusterConfig? config, out var error))
        {
            // Like a half-written config file: rejected, but a remote already running keeps going (its own
            // watch of this key reports the invalid config in its status).
            return EntryDecodeResult<CachedConfigEntry>.Ok(CachedConfigEntry.Reject(key, cluster, $"cluster config invalid: {error}"));
        }

        // Not a kvstoremesh copy (e.g. written by something else): not a remote a node agent reads.
        return EntryDecodeResult<CachedConfigEntry>.Ok(config.Capabilities.Cached ? new CachedConfigEntry(key, cluster, null) : CachedConfigEntry.Ignore(key));
    }

    private void OnConfig(string key, CachedConfigEntry? entry)
    {
        lock (_gate)
        {
            if (entry is null)
            {
                _configs.Remove(key);
            }
            else
            {
                _configs[key] = entry;
            }
        }

        _trigger.Writer.TryWrite(true);
    }

    private async Task FollowConfigsAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await _trigger.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                _trigger.Reader.TryRead(out _);
                try
                {
                    await ReconcileAsync().ConfigureAwait(false);
                    if (_listed)
                    {
                        _configsListed.TrySetResult();
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A bug: say so, and keep following (the next change reconciles again).
                    Log.ReconcileFailed(_logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private Task ReconcileAsync()
    {
        var desired = new Dictionary<string, RemoteClusterConfig>(StringComparer.Ordinal);
        var rejected = ImmutableArray.CreateBuilder<RejectedRemoteConfig>();
        var keep = new HashSet<string>(StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var entry in _configs.Values.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                if (entry.Rejected is { } reason)
                {
                    rejected.Add(new RejectedRemoteConfig(entry.Key, reason));
                    if (entry.Cluster is { } cluster)
                    {
                        keep.Add(cluster);
                    }
                }
                else if (entry.Cluster is { } cluster)
                {
                    desired[cluster] = new RemoteClusterConfig(cluster, [.. _client.Endpoints], null, null, null, CachedFingerprint);
                }
            }
        }

        return _remotes.ReconcileAsync(desired, rejected.ToImmutable(), keep, "the local etcd's cached cluster configs");
    }

    /// <summary>One key under <c>cilium/cluster-config/</c>: a cached remote (<see cref="Cluster"/> set, no rejection), rejected, or ignored.</summary>
    private sealed record CachedConfigEntry(string Key, string? Cluster, string? Rejected)
    {
        public static CachedConfigEntry Reject(string key, string? cluster, string reason) => new(key, cluster, reason);

        public static CachedConfigEntry Ignore(string key) => new(key, null, null);
    }

    private sealed class ConfigObserver(CachedRemoteClusterSource owner) : IWatchStoreObserver<CachedConfigEntry>
    {
        public void OnUpsert(string key, CachedConfigEntry value) => owner.OnConfig(key, value);

        public void OnDelete(string key, CachedConfigEntry lastValue) => owner.OnConfig(key, null);

        public void OnSynced()
        {
            owner._listed = true;
            owner._trigger.Writer.TryWrite(true);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Applying the cached cluster configs of the local etcd failed; retrying at the next change")]
        public static partial void ReconcileFailed(ILogger logger, Exception exception);
    }
}
