using System.Collections.Immutable;
using Federation.Etcd.ClusterMesh;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Mesh.Services;

/// <summary>
/// Holds, per namespace/name, the local Service and every remote cluster's part of it, and keeps their
/// <see cref="MergedService"/> up to date. Thread-safe.
/// </summary>
/// <remarks>
/// <see cref="Changed"/> is raised only when a merged value really changes (structural equality), so
/// a remote label edit or another service's update raises nothing. It is raised while the cache's lock is
/// held, so handlers see changes in the order they happened; a handler must be quick and must not wait on
/// another thread that uses the cache (enqueue the name for a reconciler and return).
/// </remarks>
public sealed partial class GlobalServiceCache
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ServiceName, Entry> _entries = [];
    private readonly Dictionary<string, HashSet<ServiceName>> _byCluster = new(StringComparer.Ordinal);
    private readonly string _localClusterName;
    private readonly uint _localClusterId;
    private readonly ILogger _logger;
    private int _duplicateBackends;

    public GlobalServiceCache(string localClusterName, uint localClusterId, ILogger<GlobalServiceCache>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(localClusterName);
        _localClusterName = localClusterName;
        _localClusterId = localClusterId;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>Raised, under the cache's lock, when the merged value of one service changes.</summary>
    public event EventHandler<MergedServiceChangedEventArgs>? Changed;

    /// <summary>How many backend IPs, summed over all services, more than one cluster claims right now.</summary>
    public int DuplicateBackendCount
    {
        get
        {
            lock (_lock)
            {
                return _duplicateBackends;
            }
        }
    }

    /// <summary>Sets (or replaces) the local cluster's Service.</summary>
    public void UpsertLocal(LocalService service)
    {
        ArgumentNullException.ThrowIfNull(service);
        var key = new ServiceName(service.Namespace, service.Name);
        lock (_lock)
        {
            var entry = GetOrAdd(key);
            entry.Local = service;
            Recompute(key, entry);
        }
    }

    /// <summary>Forgets the local cluster's Service: its merged value becomes empty.</summary>
    public void DeleteLocal(string @namespace, string name)
    {
        var key = new ServiceName(@namespace, name);
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var entry) && entry.Local is not null)
            {
                entry.Local = null;
                Recompute(key, entry);
            }
        }
    }

    /// <summary>Sets (or replaces) one remote cluster's part of the service named in <paramref name="service"/>.</summary>
    public void UpsertRemote(string cluster, ClusterService service)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(service);
        var key = new ServiceName(service.Namespace, service.Name);
        lock (_lock)
        {
            var entry = GetOrAdd(key);
            entry.Remotes = entry.Remotes.SetItem(cluster, service);
            if (!_byCluster.TryGetValue(cluster, out var names))
            {
                _byCluster[cluster] = names = [];
            }

            names.Add(key);
            Recompute(key, entry);
        }
    }

    /// <summary>Forgets one remote cluster's part of one service.</summary>
    public void DeleteRemote(string cluster, string @namespace, string name)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var key = new ServiceName(@namespace, name);
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var entry) && entry.Remotes.ContainsKey(cluster))
            {
                entry.Remotes = entry.Remotes.Remove(cluster);
                if (_byCluster.TryGetValue(cluster, out var names))
                {
                    names.Remove(key);
                    if (names.Count == 0)
                    {
                        _byCluster.Remove(cluster);
                    }
                }

                Recompute(key, entry);
            }
        }
    }

    /// <summary>Forgets everything a remote cluster contributed (it was disconnected or refused).</summary>
    public void RemoveCluster(string cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        lock (_lock)
        {
            if (!_byCluster.Remove(cluster, out var names))
            {
                return;
            }

            foreach (var key in names.OrderBy(n => n.Namespace, StringComparer.Ordinal).ThenBy(n => n.Name, StringComparer.Ordinal))
            {
                var entry = _entries[key];
                entry.Remotes = entry.Remotes.Remove(cluster);
                Recompute(key, entry);
            }
        }
    }

    /// <summary>The merged value of one service, or null when neither the local cluster nor a remote one knows it.</summary>
    public MergedService? Get(string @namespace, string name)
    {
        lock (_lock)
        {
            return _entries.TryGetValue(new ServiceName(@namespace, name), out var entry) ? entry.Merged : null;
        }
    }

    /// <summary>Every known service's merged value, ordered by namespace and name.</summary>
    public ImmutableArray<MergedService> Snapshot()
    {
        lock (_lock)
        {
            return
            [
                .. _entries
                    .OrderBy(e => e.Key.Namespace, StringComparer.Ordinal)
                    .ThenBy(e => e.Key.Name, StringComparer.Ordinal)
                    .Select(e => e.Value.Merged),
            ];
        }
    }

    /// <summary>The services that have backend IPs claimed by more than one cluster, ordered by namespace and name.</summary>
    public ImmutableArray<MergedService> WithDuplicates() => [.. Snapshot().Where(s => s.Duplicates.Length > 0)];

    private Entry GetOrAdd(ServiceName key)
    {
        if (!_entries.TryGetValue(key, out var entry))
        {
            _entries[key] = entry = new Entry(new MergedService { Namespace = key.Namespace, Name = key.Name });
        }

        return entry;
    }

    private void Recompute(ServiceName key, Entry entry)
    {
        var previous = entry.Merged;
        var merged = GlobalServiceMerge.Compute(entry.Local, entry.Remotes, _localClusterId, _localClusterName) with
        {
            Namespace = key.Namespace,
            Name = key.Name,
        };

        if (entry.Local is null && entry.Remotes.IsEmpty)
        {
            _entries.Remove(key);
        }
        else
        {
            entry.Merged = merged;
        }

        if (merged.Equals(previous))
        {
            return;
        }

        _duplicateBackends += merged.Duplicates.Length - previous.Duplicates.Length;
        foreach (var duplicate in merged.Duplicates.Except(previous.Duplicates))
        {
            LogDuplicateBackend(key.ToString(), duplicate.Ip, string.Join(",", duplicate.Clusters));
        }

        LogMergedServiceChanged(key.ToString(), merged.Frontends.Length, merged.Frontends.Sum(f => f.Backends.Length));
        Changed?.Invoke(this, new MergedServiceChangedEventArgs(previous, merged));
    }

    private sealed class Entry(MergedService merged)
    {
        public LocalService? Local { get; set; }

        public ImmutableDictionary<string, ClusterService> Remotes { get; set; } =
            ImmutableDictionary<string, ClusterService>.Empty.WithComparers(StringComparer.Ordinal);

        public MergedService Merged { get; set; } = merged;
    }
}

/// <summary>One service's merged value before and after a change; an empty <see cref="Current"/> means nothing to program.</summary>
public sealed class MergedServiceChangedEventArgs(MergedService previous, MergedService current) : EventArgs
{
    public MergedService Previous { get; } = previous;

    public MergedService Current { get; } = current;

    public ServiceName Name => Current.Key;
}
