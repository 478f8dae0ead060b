using System.Net;
using Federation.Etcd.ClusterMesh;

namespace Federation.ClusterMesh.ApiServer.Hosting;

/// <summary>Settings of a clustermesh-apiserver; every property has a command-line flag (<see cref="ApiServerFlags"/>).</summary>
public sealed class ApiServerOptions
{
    /// <summary><c>--cluster-name</c>.</summary>
    public string ClusterName { get; set; } = "";

    /// <summary><c>--cluster-id</c>: 1–255, or 1–511 with <c>--max-connected-clusters=511</c>.</summary>
    public uint ClusterId { get; set; }

    /// <summary><c>--max-connected-clusters</c>: 255 or 511, the same mesh-wide.</summary>
    public uint MaxConnectedClusters { get; set; } = ClusterIdentity.DefaultMaxConnectedClusters;

    /// <summary><c>--etcd-endpoints</c> (comma-separated URLs).</summary>
    public IList<Uri> EtcdEndpoints { get; set; } = [];

    /// <summary><c>--etcd-ca-file</c>, <c>--etcd-cert-file</c>, <c>--etcd-key-file</c>: mTLS to the cluster's etcd (the admin user).</summary>
    public string? EtcdCaFile { get; set; }

    public string? EtcdCertFile { get; set; }

    public string? EtcdKeyFile { get; set; }

    /// <summary><c>--kubeconfig</c> (and <c>--context</c>); neither: in-cluster configuration.</summary>
    public string? Kubeconfig { get; set; }

    public string? KubeContext { get; set; }

    /// <summary><c>--lease-ttl</c>: TTL of the leases every written key is attached to.</summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary><c>--heartbeat-interval</c>.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary><c>--health-listen</c>: /healthz, /readyz, /metrics and /status (loopback by default).</summary>
    public IPEndPoint HealthListen { get; set; } = new(IPAddress.Loopback, 9880);

    /// <summary><c>--peer-clusters</c>: the remote clusters that may read this cluster's state (one etcd user each).</summary>
    public IList<string> PeerClusters { get; set; } = [];

    /// <summary><c>--replica-id</c>: set to run several replicas against one etcd with leader election; empty = single replica.</summary>
    public string? ReplicaId { get; set; }

    /// <summary><c>--leader-election-ttl</c>: TTL of the election lease with <c>--replica-id</c>; bounds how long a crashed leader is waited for.</summary>
    public TimeSpan LeaderElectionTtl { get; set; } = HighAvailability.LeaderElectionOptions.DefaultLeaseTtl;

    /// <summary><c>--clustermesh-config</c>: directory of remote cluster configs (one file per cluster); set, kvstoremesh mirrors them into this etcd.</summary>
    public string? ClusterMeshConfig { get; set; }

    /// <summary>
    /// <c>--clustermesh-config-secret</c>: <c>NAMESPACE/NAME</c> of a Secret (Cilium's <c>cilium-clustermesh</c>) whose keys are
    /// kept as the files of <see cref="ClusterMeshConfig"/>, where no kubelet mounts it.
    /// </summary>
    public string? ClusterMeshConfigSecret { get; set; }

    /// <summary>The namespace and name of <see cref="ClusterMeshConfigSecret"/>; null when it is unset or not <c>NAMESPACE/NAME</c>.</summary>
    public (string Namespace, string Name)? ClusterMeshConfigSecretRef
        => ClusterMeshConfigSecret?.Split('/') is [{ Length: > 0 } ns, { Length: > 0 } name] ? (ns, name) : null;

    /// <summary><c>--remote-stale-ttl</c>: how long an unreachable remote's services are kept; 0 keeps them until it is back.</summary>
    public TimeSpan RemoteStaleTtl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary><c>--kvstoremesh-drain-grace</c>: how long a removed remote's cached entries outlive its (at once deleted) config.</summary>
    public TimeSpan KvStoreMeshDrainGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Every problem, each naming its flag; empty when the options are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (ClusterIdentity.ValidateClusterName(ClusterName) is { Ok: false } name)
        {
            errors.Add($"--cluster-name: {name.Error}");
        }

        if (ClusterIdentity.ValidateMaxConnectedClusters(MaxConnectedClusters) is { Ok: false } max)
        {
            errors.Add($"--max-connected-clusters: {max.Error}");
        }
        else if (ClusterIdentity.ValidateClusterId(ClusterId, MaxConnectedClusters) is { Ok: false } id)
        {
            errors.Add($"--cluster-id: {id.Error}");
        }

        if (EtcdEndpoints.Count == 0)
        {
            errors.Add("--etcd-endpoints: at least one etcd URL is required (e.g. https://127.0.0.1:2379)");
        }

        if ((EtcdCertFile is null) != (EtcdKeyFile is null))
        {
            errors.Add("--etcd-cert-file and --etcd-key-file go together");
        }

        if (LeaseTtl < TimeSpan.FromSeconds(5))
        {
            errors.Add($"--lease-ttl: {LeaseTtl} is too short (at least 5s)");
        }

        if (HeartbeatInterval <= TimeSpan.Zero || HeartbeatInterval >= LeaseTtl)
        {
            errors.Add($"--heartbeat-interval: must be positive and shorter than --lease-ttl ({LeaseTtl})");
        }

        if (LeaderElectionTtl < HighAvailability.LeaderElectionOptions.MinLeaseTtl || LeaderElectionTtl > HighAvailability.LeaderElectionOptions.MaxLeaseTtl)
        {
            errors.Add($"--leader-election-ttl: {LeaderElectionTtl} is outside {HighAvailability.LeaderElectionOptions.MinLeaseTtl}..{HighAvailability.LeaderElectionOptions.MaxLeaseTtl}");
        }

        if (ClusterMeshConfigSecret is { } secret)
        {
            if (ClusterMeshConfigSecretRef is null)
            {
                errors.Add($"--clustermesh-config-secret: '{secret}' is not NAMESPACE/NAME (e.g. kube-system/cilium-clustermesh)");
            }

            if (ClusterMeshConfig is null)
            {
                errors.Add("--clustermesh-config-secret: requires --clustermesh-config DIR (the directory the Secret's keys are written to)");
            }
        }

        // With a Secret the directory is created (it is written from the Secret); without one it must be there.
        if (ClusterMeshConfig is { } dir && ClusterMeshConfigSecret is null && !Directory.Exists(dir))
        {
            errors.Add($"--clustermesh-config: directory '{dir}' does not exist");
        }

        if (RemoteStaleTtl < TimeSpan.Zero)
        {
            errors.Add("--remote-stale-ttl: must not be negative (0 keeps an unreachable remote's services)");
        }

        if (KvStoreMeshDrainGrace < TimeSpan.Zero)
        {
            errors.Add("--kvstoremesh-drain-grace: must not be negative");
        }

        foreach (var peer in PeerClusters)
        {
            if (ClusterIdentity.ValidateClusterName(peer) is { Ok: false } bad)
            {
                errors.Add($"--peer-clusters: '{peer}': {bad.Error}");
            }
            else if (peer == ClusterName)
            {
                errors.Add($"--peer-clusters: '{peer}' is this cluster");
            }
        }

        return errors;
    }
}
