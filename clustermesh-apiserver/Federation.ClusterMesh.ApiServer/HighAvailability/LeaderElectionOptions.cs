namespace Federation.ClusterMesh.ApiServer.HighAvailability;

/// <summary>
/// Settings of the leader election between replicas (<c>--replica-id</c>). The lease TTL bounds the failover
/// time after a leader dies without resigning; set it with <c>--leader-election-ttl</c> (default 15s).
/// </summary>
internal sealed class LeaderElectionOptions
{
    public static readonly TimeSpan DefaultLeaseTtl = TimeSpan.FromSeconds(15);

    public static readonly TimeSpan MinLeaseTtl = TimeSpan.FromSeconds(2);

    public static readonly TimeSpan MaxLeaseTtl = TimeSpan.FromMinutes(5);

    /// <summary>TTL of the lease the election key is attached to.</summary>
    public TimeSpan LeaseTtl { get; init; } = DefaultLeaseTtl;

    /// <summary>The election key of a cluster; its value is the leader's replica id.</summary>
    public static string Key(string cluster) => $"cilium/.clustermesh-apiserver/leader/{cluster}";
}
