using System.Net;

namespace Federation.ClusterMesh.ApiServer.Hosting;

/// <summary>Command-line flags of clustermesh-apiserver (<c>--name=value</c> or <c>--name value</c>).</summary>
public static class ApiServerFlags
{
    public const string Usage = """
        usage: clustermesh-apiserver --cluster-name NAME --cluster-id ID --etcd-endpoints URL[,URL...] [options]
          --max-connected-clusters 255|511   (default 255)
          --etcd-ca-file FILE --etcd-cert-file FILE --etcd-key-file FILE
          --kubeconfig FILE [--context NAME]  (default: in-cluster configuration)
          --lease-ttl DURATION                (default 15m)
          --heartbeat-interval DURATION       (default 1m)
          --health-listen IP:PORT             (default 127.0.0.1:9880; /healthz /readyz /metrics /status)
          --peer-clusters NAME[,NAME...]      remote clusters allowed to read this cluster's state
          --replica-id ID                     run as one of several replicas (leader election in etcd)
          --leader-election-ttl DURATION      election lease TTL with --replica-id (default 15s; 2s..5m)
          --clustermesh-config DIR            remote clusters to mirror into this etcd (kvstoremesh): one file per cluster
          --clustermesh-config-secret NS/NAME keep --clustermesh-config equal to this Secret's keys (e.g. kube-system/cilium-clustermesh):
                                              each key a file, removed keys removed; for hosts without a kubelet to mount it
          --remote-stale-ttl DURATION         keep an unreachable remote's services this long (default 10m; 0 = forever)
          --kvstoremesh-drain-grace DURATION  a removed remote's cache outlives its config by this much (default 30s)
        durations: 90s, 15m, 1h, or a number of seconds
        """;

    public static (ApiServerOptions Options, IReadOnlyList<string> Errors) Parse(IReadOnlyList<string> args)
    {
        var options = new ApiServerOptions();
        var errors = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                errors.Add($"unexpected argument '{arg}'");
                continue;
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals > 0 ? arg[..equals] : arg;
            string? value = equals > 0 ? arg[(equals + 1)..] : (i + 1 < args.Count ? args[++i] : null);
            if (value is null)
            {
                errors.Add($"{name}: a value is required");
                continue;
            }

            switch (name)
            {
                case "--cluster-name": options.ClusterName = value; break;
                case "--cluster-id": options.ClusterId = FlagValues.ParseUInt(name, value, errors); break;
                case "--max-connected-clusters": options.MaxConnectedClusters = FlagValues.ParseUInt(name, value, errors); break;
                case "--etcd-endpoints": options.EtcdEndpoints = FlagValues.ParseUris(name, value, errors); break;
                case "--etcd-ca-file": options.EtcdCaFile = value; break;
                case "--etcd-cert-file": options.EtcdCertFile = value; break;
                case "--etcd-key-file": options.EtcdKeyFile = value; break;
                case "--kubeconfig": options.Kubeconfig = value; break;
                case "--context": options.KubeContext = value; break;
                case "--lease-ttl": options.LeaseTtl = FlagValues.ParseDuration(name, value, errors); break;
                case "--heartbeat-interval": options.HeartbeatInterval = FlagValues.ParseDuration(name, value, errors); break;
                case "--health-listen":
                    if (IPEndPoint.TryParse(value, out var endpoint))
                    {
                        options.HealthListen = endpoint;
                    }
                    else
                    {
                        errors.Add($"{name}: '{value}' is not IP:PORT");
                    }

                    break;
                case "--peer-clusters": options.PeerClusters = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]; break;
                case "--replica-id": options.ReplicaId = value; break;
                case "--leader-election-ttl": options.LeaderElectionTtl = FlagValues.ParseDuration(name, value, errors); break;
                case "--clustermesh-config": options.ClusterMeshConfig = value; break;
                case "--clustermesh-config-secret": options.ClusterMeshConfigSecret = value; break;
                case "--remote-stale-ttl": options.RemoteStaleTtl = FlagValues.ParseDuration(name, value, errors); break;
                case "--kvstoremesh-drain-grace": options.KvStoreMeshDrainGrace = FlagValues.ParseDuration(name, value, errors); break;
                default: errors.Add($"{name}: unknown flag"); break;
            }
        }

        if (errors.Count == 0)
        {
            errors.AddRange(options.Validate());
        }

        return (options, errors);
    }
}
