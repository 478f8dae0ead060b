using System.Text.RegularExpressions;
using Federation.KindConfigs.Tests.Support;

namespace Federation.KindConfigs.Tests;

public sealed partial class KustomizeOverlayTests
{
    public static TheoryData<string> Clusters() => [.. Repo.ClusterNames];

    [Theory]
    [MemberData(nameof(Clusters))]
    public async Task Overlay_renders_every_component_of_a_cluster_in_kube_system(string cluster)
    {
        var objects = await Manifests.RenderAsync(cluster);

        (string Kind, string Name)[] expected =
        [
            ("ServiceAccount", "clustermesh-apiserver"),
            ("ServiceAccount", "node-agent"),
            ("ClusterRole", "clustermesh-apiserver"),
            ("ClusterRole", "node-agent"),
            ("ClusterRoleBinding", "clustermesh-apiserver"),
            ("ClusterRoleBinding", "node-agent"),
            ("Role", "clustermesh-apiserver"),
            ("RoleBinding", "clustermesh-apiserver"),
            ("ConfigMap", "clustermesh-config"),
            ("ConfigMap", "clustermesh-peers"),
            ("Service", "clustermesh-apiserver"),
            ("Service", "clustermesh-apiserver-health"),
            ("Deployment", "clustermesh-apiserver"),
            ("DaemonSet", "node-agent"),
        ];
        var rendered = objects.Select(o => (o.Kind(), o.Name())).ToList();
        Assert.Equal(expected.Order(), rendered.Order());
        foreach (var obj in objects.Where(o => o.Kind() is not ("ClusterRole" or "ClusterRoleBinding")))
        {
            Assert.True(obj.NamespaceOf() == Manifests.Namespace, $"{obj.Kind()}/{obj.Name()} is in namespace '{obj.NamespaceOf()}', not {Manifests.Namespace}");
        }
    }

    [Fact]
    public async Task Each_overlay_names_its_kind_cluster_with_a_distinct_valid_cluster_id()
    {
        var ids = new Dictionary<string, string>();
        for (var i = 0; i < Repo.ClusterNames.Count; i++)
        {
            var cluster = Repo.ClusterNames[i];
            var data = (await Manifests.RenderAsync(cluster)).Single("ConfigMap", "clustermesh-config")["data"];
            var name = data?["cluster-name"].Str();
            var id = data?["cluster-id"].Str();

            // up.sh enables cluster I of the mesh as --cluster-name clusterI --cluster-id I.
            Assert.Equal(cluster, name);
            Assert.Equal((i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), id);
            Assert.Matches(ClusterNamePattern(), name);
            Assert.True(uint.TryParse(id, out var number) && number is >= 1 and <= 255, $"{cluster}: cluster-id '{id}' is not 1-255");
            Assert.Equal("255", data?["max-connected-clusters"].Str());
            Assert.False(ids.ContainsKey(id), $"{cluster} and {ids.GetValueOrDefault(id!)} both have cluster-id {id}");
            ids[id] = cluster;

            var kindConfig = Yaml.ParseSingle(File.ReadAllText(Path.Combine(Repo.Clusters, cluster + ".yaml")));
            Assert.Equal(name, kindConfig["name"].Str());
        }
    }

    [Theory]
    [MemberData(nameof(Clusters))]
    public async Task Every_config_map_key_a_pod_reads_is_in_the_render(string cluster)
    {
        var objects = await Manifests.RenderAsync(cluster);
        var missing = new List<string>();
        var references = 0;
        foreach (var workload in objects.Workloads())
        {
            foreach (var container in workload.PodSpec().Containers())
            {
                foreach (var env in container["env"].Items())
                {
                    if (env["valueFrom"]?["configMapKeyRef"] is not { } reference || reference["optional"].Str() == "true")
                    {
                        continue;
                    }

                    references++;
                    var configMap = objects.FirstOrDefault(o => o.Kind() == "ConfigMap" && o.Name() == reference["name"].Str());
                    if (configMap?["data"]?[reference["key"].Str() ?? ""] is null)
                    {
                        missing.Add($"{workload.Name()}/{container["name"].Str()} env {env["name"].Str()}: ConfigMap {reference["name"].Str()} key {reference["key"].Str()}");
                    }
                }
            }
        }

        Assert.True(references > 0, "no pod reads the cluster name and ID from a ConfigMap");
        Assert.True(missing.Count == 0, "a pod would not start (CreateContainerConfigError):\n" + Tools.Lines(missing));
    }

    [Theory]
    [MemberData(nameof(Clusters))]
    public async Task Service_accounts_roles_and_bindings_resolve(string cluster)
    {
        var objects = await Manifests.RenderAsync(cluster);
        var accounts = objects.Where(o => o.Kind() == "ServiceAccount").Select(o => o.Name()).ToHashSet();

        foreach (var workload in objects.Workloads())
        {
            Assert.Contains(workload.PodSpec()["serviceAccountName"].Str() ?? "(none)", accounts);
        }

        foreach (var binding in objects.Where(o => o.Kind() is "RoleBinding" or "ClusterRoleBinding"))
        {
            var roleKind = binding["roleRef"]?["kind"].Str();
            var roleName = binding["roleRef"]?["name"].Str();
            Assert.True(
                objects.Any(o => o.Kind() == roleKind && o.Name() == roleName),
                $"{binding.Kind()}/{binding.Name()} refers to {roleKind}/{roleName}, which is not rendered");
            foreach (var subject in binding["subjects"].Items())
            {
                Assert.Equal("ServiceAccount", subject["kind"].Str());
                Assert.Contains(subject["name"].Str() ?? "", accounts);
                Assert.Equal(Manifests.Namespace, subject["namespace"].Str());
            }
        }
    }

    [Theory]
    [MemberData(nameof(Clusters))]
    public async Task Roles_grant_what_the_apiserver_and_the_agent_watch_and_write(string cluster)
    {
        var objects = await Manifests.RenderAsync(cluster);
        var apiserver = objects.Single("ClusterRole", "clustermesh-apiserver");
        var apiserverLocal = objects.Single("Role", "clustermesh-apiserver");
        var agent = objects.Single("ClusterRole", "node-agent");

        foreach (var verb in new[] { "list", "watch" })
        {
            foreach (var resource in new[] { "services", "namespaces", "pods", "nodes" })
            {
                Assert.True(apiserver.Allows("", resource, verb), $"clustermesh-apiserver cannot {verb} {resource}");
            }

            Assert.True(apiserver.Allows("discovery.k8s.io", "endpointslices", verb), $"clustermesh-apiserver cannot {verb} endpointslices");
            Assert.True(apiserverLocal.Allows("", "secrets", verb), $"clustermesh-apiserver cannot {verb} secrets in its namespace");
            Assert.True(apiserverLocal.Allows("", "configmaps", verb), $"clustermesh-apiserver cannot {verb} configmaps in its namespace");
            Assert.True(agent.Allows("", "services", verb), $"node-agent cannot {verb} services");
            Assert.True(agent.Allows("", "nodes", verb), $"node-agent cannot {verb} nodes");
            Assert.True(agent.Allows("discovery.k8s.io", "endpointslices", verb), $"node-agent cannot {verb} endpointslices");
        }

        Assert.True(apiserverLocal.Allows("coordination.k8s.io", "leases", "create"));
        Assert.True(apiserverLocal.Allows("coordination.k8s.io", "leases", "update"));
        // The WireGuard public key goes on the Node as an annotation.
        Assert.True(agent.Allows("", "nodes", "patch"), "node-agent cannot patch nodes (network.cilium.io/wg-pub-key)");
        // Secrets are the etcd keys of the whole mesh: nobody gets them cluster-wide.
        Assert.False(apiserver.Allows("", "secrets", "get"), "clustermesh-apiserver reads secrets cluster-wide");
        Assert.False(agent.Allows("", "secrets", "get"), "node-agent reads secrets");
    }

    [Theory]
    [MemberData(nameof(Clusters))]
    public async Task Services_select_the_apiserver_pods_and_their_named_ports(string cluster)
    {
        var objects = await Manifests.RenderAsync(cluster);
        var deployment = objects.Single("Deployment", "clustermesh-apiserver");
        var podLabels = deployment["spec"]?["template"]?["metadata"]?["labels"]?.AsObject() ?? [];
        var containerPorts = deployment.PodSpec().Containers(includeInit: false)
            .SelectMany(c => c["ports"].Items())
            .ToDictionary(p => p["name"].Str() ?? "", p => p["containerPort"].Str());

        foreach (var service in objects.Where(o => o.Kind() == "Service"))
        {
            var selector = service["spec"]?["selector"]?.AsObject();
            Assert.True(selector is { Count: > 0 }, $"Service {service.Name()} has no selector");
            foreach (var (key, value) in selector!)
            {
                Assert.True(podLabels[key].Str() == value.Str(), $"Service {service.Name()} selects {key}={value.Str()}, the apiserver pods have {key}={podLabels[key].Str()}");
            }

            foreach (var port in service["spec"]?["ports"].Items() ?? [])
            {
                var target = port["targetPort"].Str() ?? "";
                Assert.True(containerPorts.ContainsKey(target), $"Service {service.Name()} targets port '{target}', not a named port of the apiserver pod ({string.Join(", ", containerPorts.Keys)})");
            }
        }

        var etcd = objects.Single("Service", "clustermesh-apiserver");
        Assert.Equal("NodePort", etcd["spec"]?["type"].Str());
        var etcdPort = etcd["spec"]?["ports"].Items().Single();
        Assert.Equal("2379", etcdPort?["port"].Str());
        Assert.Equal("2379", containerPorts[etcdPort?["targetPort"].Str() ?? ""]);
    }

    [Theory]
    [MemberData(nameof(Clusters))]
    public async Task Etcd_runs_beside_the_apiserver_with_tls_client_certificates_on_loopback_and_the_pod_ip(string cluster)
    {
        var deployment = (await Manifests.RenderAsync(cluster)).Single("Deployment", "clustermesh-apiserver");
        var etcd = deployment.Container("etcd");
        var apiserver = deployment.Container("apiserver");

        Assert.StartsWith("registry.k8s.io/etcd:3.5.", etcd["image"].Str(), StringComparison.Ordinal);
        Assert.NotNull(etcd.Flag("--client-cert-auth"));
        var listen = (etcd.Flag("--listen-client-urls") ?? "").Split(',');
        Assert.Contains("https://127.0.0.1:2379", listen);
        Assert.Contains("https://$(POD_IP):2379", listen);
        Assert.DoesNotContain(listen, url => url.StartsWith("http://", StringComparison.Ordinal));
        foreach (var file in new[] { "--trusted-ca-file", "--cert-file", "--key-file" })
        {
            Assert.False(string.IsNullOrEmpty(etcd.Flag(file)), $"etcd has no {file}");
        }

        Assert.Equal("https://127.0.0.1:2379", apiserver.Flag("--etcd-endpoints"));
        // Client certificates: without one the apiserver cannot create the etcd users of the remote clusters.
        Assert.All(new[] { "--etcd-ca-file", "--etcd-cert-file", "--etcd-key-file" }, flag => Assert.False(string.IsNullOrEmpty(apiserver.Flag(flag)), flag));
        // Probes reach the health endpoint on the pod IP.
        Assert.Equal("0.0.0.0:9880", apiserver.Flag("--health-listen"));
    }

    [Theory]
    [MemberData(nameof(Clusters))]
    public async Task Node_agent_has_the_privileges_mounts_and_node_name_it_needs(string cluster)
    {
        var objects = await Manifests.RenderAsync(cluster);
        var daemonSet = objects.Single("DaemonSet", "node-agent");
        var pod = daemonSet.PodSpec();
        var agent = daemonSet.Container("node-agent");

        Assert.Equal("true", agent["securityContext"]?["privileged"].Str());
        Assert.Equal("true", pod["hostNetwork"].Str());
        Assert.Equal("ClusterFirstWithHostNet", pod["dnsPolicy"].Str());
        Assert.Contains(pod["tolerations"].Items(), t => t["operator"].Str() == "Exists" && t["key"] is null);

        var hostPaths = pod["volumes"].Items()
            .Where(v => v["hostPath"] is not null)
            .ToDictionary(v => v["name"].Str() ?? "", v => v["hostPath"]?["path"].Str());
        var mounts = agent["volumeMounts"].Items().ToDictionary(m => m["mountPath"].Str() ?? "", m => m);

        var cgroup = agent.Flag("--cgroup") ?? "";
        Assert.Equal("/sys/fs/cgroup", cgroup);
        Assert.True(mounts.TryGetValue(cgroup, out var cgroupMount), "the --cgroup directory is not mounted");
        Assert.Equal("/sys/fs/cgroup", hostPaths[cgroupMount["name"].Str()!]);

        var bpffsRoot = agent.Flag("--bpffs-root") ?? "/sys/fs/bpf/federation";
        var bpffsMount = mounts.Single(m => bpffsRoot.StartsWith(m.Key + "/", StringComparison.Ordinal)).Value;
        Assert.Equal("/sys/fs/bpf", hostPaths[bpffsMount["name"].Str()!]);
        Assert.Equal("Bidirectional", bpffsMount["mountPropagation"].Str());

        var stateDir = agent.Flag("--state-dir") ?? "";
        Assert.NotEqual("", stateDir);
        Assert.True(mounts.TryGetValue(stateDir, out var stateMount) && hostPaths.ContainsKey(stateMount["name"].Str()!), "the WireGuard key in --state-dir would not outlive the pod");

        Assert.Equal("$(NODE_NAME)", agent.Flag("--node-name"));
        var nodeName = agent["env"].Items().Single(e => e["name"].Str() == "NODE_NAME");
        Assert.Equal("spec.nodeName", nodeName["valueFrom"]?["fieldRef"]?["fieldPath"].Str());
    }

    [Theory]
    [MemberData(nameof(Clusters))]
    public async Task Node_agent_reads_the_etcd_of_its_cluster_through_the_apiserver_service(string cluster)
    {
        var objects = await Manifests.RenderAsync(cluster);
        var agent = objects.Single("DaemonSet", "node-agent").Container("node-agent");
        var service = objects.Single("Service", "clustermesh-apiserver");

        Assert.Equal("cache", agent.Flag("--remote-source"));
        var endpoint = new Uri(agent.Flag("--etcd-endpoints") ?? "");
        Assert.Equal("https", endpoint.Scheme);
        Assert.Equal($"{service.Name()}.{service.NamespaceOf()}.svc", endpoint.Host);
        Assert.Equal(service["spec"]?["ports"].Items().Single()["port"].Str(), endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.All(new[] { "--etcd-ca-file", "--etcd-cert-file", "--etcd-key-file" }, flag => Assert.False(string.IsNullOrEmpty(agent.Flag(flag)), flag));
    }

    [Theory]
    [MemberData(nameof(Clusters))]
    public async Task Every_variable_in_container_args_is_defined_in_its_env(string cluster)
    {
        // The kubelet passes an undefined $(VAR) through literally: --cluster-id=$(CLUSTER_ID) would reach the binary.
        var undefined = new List<string>();
        foreach (var workload in (await Manifests.RenderAsync(cluster)).Workloads())
        {
            foreach (var container in workload.PodSpec().Containers())
            {
                var defined = container["env"].Items().Select(e => e["name"].Str()).ToHashSet();
                foreach (var arg in container["args"].Strings().Concat(container["command"].Strings()))
                {
                    foreach (Match variable in VariableReference().Matches(arg))
                    {
                        if (!defined.Contains(variable.Groups[1].Value))
                        {
                            undefined.Add($"{workload.Name()}/{container["name"].Str()}: {arg}");
                        }
                    }
                }
            }
        }

        Assert.True(undefined.Count == 0, Tools.Lines(undefined));
    }

    [GeneratedRegex(@"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex VariableReference();

    [GeneratedRegex("^([a-z0-9][-a-z0-9]*)?[a-z0-9]$")]
    private static partial Regex ClusterNamePattern();
}
