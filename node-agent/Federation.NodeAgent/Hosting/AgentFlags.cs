using System.Net;
using Federation.ClusterMesh.ApiServer.Hosting;

namespace Federation.NodeAgent.Hosting;

/// <summary>Command-line flags of node-agent (<c>--name=value</c> or <c>--name value</c>; <c>--dump</c> and <c>--uninstall</c> take none).</summary>
internal static class AgentFlags
{
    public const string Usage = """
        usage: node-agent --node-name NODE --cluster-name NAME --cluster-id ID --cgroup DIR [options]
               node-agent --dump --node-name NODE [--bpffs-root DIR] [--state-dir DIR]
               node-agent --uninstall --node-name NODE [--bpffs-root DIR]
          --max-connected-clusters 255|511   (default 255)
          --kubeconfig FILE [--context NAME]  (default: in-cluster configuration)
          --remote-source cache|direct        (default cache: remote clusters from the local etcd, as kvstoremesh copied them)
          --clustermesh-config DIR            with --remote-source direct: remote clusters' etcd configs (default /var/lib/federation/clustermesh)
          --etcd-endpoints URL[,URL...]       the cluster's etcd (for --remote-source cache)
          --etcd-ca-file FILE --etcd-cert-file FILE --etcd-key-file FILE
          --bpffs-root DIR                    (default /sys/fs/bpf/federation; pins in DIR/NODE)
          --state-dir DIR                     (default /var/run/federation/node-agent)
          --health-listen IP:PORT             (default 127.0.0.1:9890; /healthz /readyz /metrics /status)
          --sync-timeout DURATION             wait for local and remote sync before the first apply (default 60s)
          --dump                              print the programmed maps as a table and exit
          --uninstall                         detach the programs, remove the pins and exit
        durations: 90s, 15m, 1h, 250ms, or a number of seconds
        """;

    public static (AgentOptions Options, IReadOnlyList<string> Errors) Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new AgentOptions();
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
            if (name is "--dump" or "--uninstall")
            {
                var mode = name == "--dump" ? AgentMode.Dump : AgentMode.Uninstall;
                if (options.Mode != AgentMode.Run && options.Mode != mode)
                {
                    errors.Add("--dump and --uninstall exclude each other");
                }

                options.Mode = mode;
                continue;
            }

            string? value = equals > 0 ? arg[(equals + 1)..] : (i + 1 < args.Count ? args[++i] : null);
            if (value is null)
            {
                errors.Add($"{name}: a value is required");
                continue;
            }

            switch (name)
            {
                case "--node-name": options.NodeName = value; break;
                case "--cluster-name": options.ClusterName = value; break;
                case "--cluster-id": options.ClusterId = FlagValues.ParseUInt(name, value, errors); break;
                case "--max-connected-clusters": options.MaxConnectedClusters = FlagValues.ParseUInt(name, value, errors); break;
                case "--kubeconfig": options.Kubeconfig = value; break;
                case "--context": options.KubeContext = value; break;
                case "--etcd-endpoints": options.EtcdEndpoints = FlagValues.ParseUris(name, value, errors); break;
                case "--etcd-ca-file": options.EtcdCaFile = value; break;
                case "--etcd-cert-file": options.EtcdCertFile = value; break;
                case "--etcd-key-file": options.EtcdKeyFile = value; break;
                case "--clustermesh-config": options.ClusterMeshConfig = value; break;
                case "--remote-source":
                    switch (value)
                    {
                        case "direct": options.RemoteSource = RemoteSourceKind.Direct; break;
                        case "cache": options.RemoteSource = RemoteSourceKind.Cache; break;
                        default: errors.Add($"{name}: '{value}' is not one of direct, cache"); break;
                    }

                    break;
                case "--cgroup": options.CgroupPath = value; break;
                case "--bpffs-root": options.BpfFsRoot = value; break;
                case "--state-dir": options.StateDirectory = value; break;
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
                case "--sync-timeout": options.SyncTimeout = FlagValues.ParseDuration(name, value, errors); break;
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
