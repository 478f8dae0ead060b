namespace Federation.Etcd.Store;

/// <summary>Settings of one <see cref="SyncStore"/>.</summary>
public sealed class SyncStoreOptions
{
    /// <summary>A name for logs and metrics, e.g. "services".</summary>
    public string Name { get; set; } = "store";

    /// <summary>
    /// The prefix this store owns (e.g. <c>cilium/state/nodes/v1/cluster1/</c>). Keys found under it at start
    /// that are not desired once the initial sync is done are deleted (left over from a previous run).
    /// Null: nothing is cleaned up.
    /// </summary>
    public string? OwnedPrefix { get; set; }

    /// <summary>Key written (RFC 3339 time) once the initial sync has been written; null for none.</summary>
    public string? SyncedCanaryKey { get; set; }

    /// <summary>Lease TTL of written keys. ClusterMesh uses 15 minutes.</summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// At most this many keys share one lease. Small on purpose: etcd 3.4 checks every key of a lease on each put
    /// attached to it (copying each key), so a put to a lease of 1000 keys cost the apply loop about 50 KB of garbage;
    /// with 100 it is a tenth, for ten times as many leases (renewed on one stream, a few per second at most).
    /// </summary>
    public int MaxKeysPerLease { get; set; } = 100;

    /// <summary>Writes in flight at once.</summary>
    public int Workers { get; set; } = 16;

    /// <summary>
    /// Keys written in one etcd transaction at most: the keys queued when a writer becomes free go together.
    /// etcd refuses transactions of more than 128 operations unless started with a larger --max-txn-ops.
    /// </summary>
    public int MaxBatchSize { get; set; } = 64;

    /// <summary>Value bytes in one transaction at most (etcd refuses requests above 1.5 MiB by default).</summary>
    public int MaxBatchBytes { get; set; } = 512 * 1024;

    /// <summary>Writes per second at most (token bucket); 0 for no limit.</summary>
    public int MaxWritesPerSecond { get; set; }

    /// <summary>First retry delay of a failed write (per key, doubling, with jitter).</summary>
    public TimeSpan RetryMinDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Watch the owned keys and write back any desired key that someone else changed or deleted.</summary>
    public bool Enforce { get; set; }

    internal void Validate()
    {
        if (MaxKeysPerLease < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxKeysPerLease), MaxKeysPerLease, "SyncStoreOptions.MaxKeysPerLease must be at least 1.");
        }

        if (Workers < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Workers), Workers, "SyncStoreOptions.Workers must be at least 1.");
        }

        if (MaxBatchSize is < 1 or > 128)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, "SyncStoreOptions.MaxBatchSize must be between 1 and 128 (etcd's default --max-txn-ops).");
        }

        if (MaxBatchBytes < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatchBytes), MaxBatchBytes, "SyncStoreOptions.MaxBatchBytes must be at least 1024.");
        }

        if (LeaseTtl < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(LeaseTtl), LeaseTtl, "SyncStoreOptions.LeaseTtl must be at least 1 second.");
        }

        if (Enforce && OwnedPrefix is null)
        {
            throw new ArgumentException("SyncStoreOptions.Enforce needs OwnedPrefix (the keys to watch).");
        }
    }
}
