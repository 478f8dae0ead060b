namespace Federation.ClusterMesh.ApiServer.KvStoreMesh;

/// <summary>Knobs of kvstoremesh without a flag of their own (tests shorten them).</summary>
public sealed class KvStoreMeshTuning
{
    /// <summary>How often the config directory is read besides file-system notifications.</summary>
    public TimeSpan ConfigPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Reconnect backoff to a remote cluster (jittered, doubling).</summary>
    public TimeSpan BackoffMin { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Writers per cached prefix (keys queued together go in one transaction).</summary>
    public int WorkersPerStore { get; set; } = 4;

    /// <summary>Pause before retrying a failed term or event.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);
}
