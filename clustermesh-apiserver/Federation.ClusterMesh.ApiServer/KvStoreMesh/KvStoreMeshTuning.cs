namespace Federation.ClusterMesh.ApiServer.KvStoreMesh;

/// <summary>Knobs of kvstoremesh without a flag of their own (tests shorten them).</summary>
public sealed class KvStoreMeshTuning
{
    /// <summary>How often the config directory is read besides file-system notifications.</summary>
    public TimeSpan ConfigPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Reconnect backoff to a remote cluster (jittered, doubling).</summary>
    public TimeSpan BackoffMin { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a connection to a remote etcd, and the first answer on a new watch or keep-alive stream, may take.
    /// Longer than a client's usual 5 s: a busy remote answers new streams slowly, and giving up re-opens them
    /// with backoff, which only adds to the load.
    /// </summary>
    public TimeSpan DialTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Remotes in their initial listing at once; the others wait their turn (all at once overloads both sides).</summary>
    public int MaxConcurrentInitialSyncs { get; set; } = 16;

    /// <summary>Writers per cached prefix (keys queued together go in one transaction).</summary>
    public int WorkersPerStore { get; set; } = 4;

    /// <summary>Pause before retrying a failed term or event.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);
}
