using System.Globalization;
using System.Net;
using Federation.ClusterMesh.ApiServer.Hosting;

namespace Federation.NodeAgent.Hosting;

/// <summary>
/// Command-line flags of node-agent (<c>--name=value</c> or <c>--name value</c>; <c>--dump</c> and <c>--uninstall</c> take none;
/// the switches <c>--wireguard</c>, <c>--wireguard-userspace</c> and <c>--ipsec</c> take <c>true|false</c> or nothing, meaning true).
/// </summary>
internal static class AgentFlags
{
    public const string Usage = """
        usage: node-agent --node-name NODE --cluster-name NAME --cluster-id ID --cgroup DIR [options]
               node-agent --dump --node-name NODE [--bpffs-root DIR] [--state-dir DIR]
               node-agent --uninstall --node-name NODE [--bpffs-root DIR] [--wireguard=true --wireguard-interface NAME --wireguard-netns NAME]
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
          --wireguard true|false              encrypt node-to-node traffic: one WireGuard peer per remote node, routes to
                                              remote pod CIDRs through it (default false). The private key is kept in
                                              --state-dir/NODE/wireguard.key (0600), the public key is published on the
                                              Node as annotation network.cilium.io/wg-pub-key. The interface stays when
                                              the agent stops (traffic keeps flowing across restarts); --uninstall removes it
          --wireguard-interface NAME          (default cilium_wg0; at most 15 characters; host-unique with wireguard-go)
          --wireguard-port N                  UDP port of every node's tunnel (default 51871)
          --wireguard-netns NAME              the node's network namespace (/var/run/netns/NAME) for the interface and
                                              the routes (default: the agent's own)
          --wireguard-underlay-interface NAME its MTU − 80 is the tunnel's MTU (default: 1500 − 80)
          --wireguard-userspace true|false    use wireguard-go even where kernel WireGuard exists (default false)
          --wireguard-route-source IP         the node's own pod-side IPv4 address, used as src of the routes to remote
                                              pod CIDRs (default: none, the kernel chooses)
          --ipsec true|false                  encrypt node-to-node traffic with IPsec (xfrm ESP states and policies per
                                              remote node) instead of WireGuard (default false; excludes --wireguard=true).
                                              The agent refuses to start where the kernel has no ESP, saying why
          --ipsec-key-file FILE               with --ipsec=true: Cilium's key file, one line "SPI ALGO KEY ICV-BITS" or
                                              "SPI AUTH-ALGO AUTH-KEY ENC-ALGO ENC-KEY"; a new SPI in it rotates the key
          --dump                              print the programmed maps (and with --wireguard=true the tunnel) and exit
          --uninstall                         detach the programs, remove the pins (and with --wireguard=true the
                                              WireGuard interface) and exit
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

            if (name is "--wireguard" or "--wireguard-userspace" or "--ipsec")
            {
                // A switch: "--wireguard", "--wireguard=false", or "--wireguard true" (a next word that is no flag is its value).
                var text = equals > 0 ? arg[(equals + 1)..] : (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true");
                bool? on = text switch { "true" => true, "false" => false, _ => null };
                if (on is null)
                {
                    errors.Add($"{name}: '{text}' is not one of true, false");
                }
                else if (name == "--wireguard")
                {
                    options.WireGuard = on.Value;
                }
                else if (name == "--ipsec")
                {
                    options.Ipsec = on.Value;
                }
                else
                {
                    options.WireGuardUserspace = on.Value;
                }

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
                case "--wireguard-interface": options.WireGuardInterface = value; break;
                case "--wireguard-port":
                    if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
                    {
                        options.WireGuardPort = port;
                    }
                    else
                    {
                        errors.Add($"{name}: '{value}' is not a UDP port (1-65535)");
                    }

                    break;
                case "--wireguard-netns": options.WireGuardNetns = value; break;
                case "--wireguard-underlay-interface": options.WireGuardUnderlayInterface = value; break;
                case "--wireguard-route-source": options.WireGuardRouteSource = value; break;
                case "--ipsec-key-file": options.IpsecKeyFile = value; break;
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
