namespace Federation.ClusterMesh.ApiServer.Security;

/// <summary>How long and how often <see cref="EtcdAccessBootstrap"/> retries while etcd is unreachable.</summary>
internal sealed class EtcdAccessBootstrapOptions
{
    /// <summary>After this long without success the start fails (the process exits and its supervisor restarts it).</summary>
    public TimeSpan RetryDeadline { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>First backoff delay; doubled (with jitter) on each attempt.</summary>
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(10);
}
