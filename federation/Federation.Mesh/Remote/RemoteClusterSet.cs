using System.Collections.Immutable;
using Microsoft.Extensions.Logging;

namespace Federation.Mesh.Remote;

/// <summary>
/// The remote clusters of one <see cref="IRemoteClusterSource"/>: adds, reconfigures and removes them against a
/// desired set of configs, owns the registry of their cluster IDs and the rejected configs, and builds the status.
/// Both <see cref="RemoteClusterManager"/> (config directory) and <see cref="CachedRemoteClusterSource"/> (cached
/// cluster configs) drive one; callers serialise <see cref="ReconcileAsync"/>.
/// </summary>
internal sealed partial class RemoteClusterSet(
    RemoteClusterOptions options, IRemoteClusterClientProvider clients, IRemoteClusterObserver observer, ILoggerFactory loggerFactory, TimeProvider time)
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<RemoteClusterSet>();
    private readonly ClusterIdRegistry _registry = new();
    private readonly SemaphoreSlim? _initialSyncs = options.MaxConcurrentInitialSyncs > 0 ? new SemaphoreSlim(options.MaxConcurrentInitialSyncs) : null;
    private ImmutableDictionary<string, RemoteCluster> _remotes = ImmutableDictionary<string, RemoteCluster>.Empty.WithComparers(StringComparer.Ordinal);
    private ImmutableArray<RejectedRemoteConfig> _rejected = [];

    /// <summary>
    /// Makes the running remotes those of <paramref name="desired"/>: a new one starts, a changed fingerprint
    /// reconnects, and one that is neither desired nor <paramref name="keep"/> (present but unusable right now)
    /// is removed: <see cref="IRemoteClusterObserver.OnRemoved"/>, then one delete per entry it provided.
    /// </summary>
    public async Task ReconcileAsync(
        IReadOnlyDictionary<string, RemoteClusterConfig> desired, ImmutableArray<RejectedRemoteConfig> rejected, IReadOnlySet<string> keep, string source)
    {
        foreach (var entry in rejected.Except(_rejected))
        {
            Log.ConfigRejected(_logger, entry.FileName, entry.Reason);
        }

        _rejected = rejected;
        foreach (var (name, config) in desired)
        {
            if (!_remotes.TryGetValue(name, out var remote))
            {
                remote = new RemoteCluster(config, options, clients, _registry, observer, loggerFactory, time, _initialSyncs);
                ImmutableInterlocked.Update(ref _remotes, (d, r) => d.SetItem(r.Name, r), remote);
                Log.Added(_logger, name, source, string.Join(", ", config.Endpoints));
                remote.Start();
            }
            else if (remote.Fingerprint != config.Fingerprint)
            {
                remote.UpdateConfig(config);
            }
        }

        foreach (var (name, remote) in _remotes)
        {
            if (desired.ContainsKey(name) || keep.Contains(name))
            {
                continue;
            }

            Log.Removing(_logger, name, source);
            await remote.RemoveAsync().ConfigureAwait(false);
            ImmutableInterlocked.TryRemove(ref _remotes, name, out _);
        }
    }

    /// <summary>Stops every remote, keeping what the observer was told (no deletes).</summary>
    public Task StopAsync(CancellationToken cancellationToken)
        => Task.WhenAll(_remotes.Values.Select(r => r.StopAsync())).WaitAsync(cancellationToken);

    public RemoteClustersStatus GetStatus()
    {
        var clusters = _remotes.Values.Select(r => r.GetStatus()).OrderBy(s => s.Name, StringComparer.Ordinal).ToImmutableArray();
        return new RemoteClustersStatus(clusters, _rejected);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Remote cluster {Cluster} configured by {Source} (endpoints {Endpoints})")]
        public static partial void Added(ILogger logger, string cluster, string source, string endpoints);

        [LoggerMessage(2, LogLevel.Information, "Remote cluster {Cluster}: no longer in {Source}; removing it")]
        public static partial void Removing(ILogger logger, string cluster, string source);

        [LoggerMessage(3, LogLevel.Warning, "Remote cluster config {Config} rejected: {Reason}")]
        public static partial void ConfigRejected(ILogger logger, string config, string reason);
    }
}
