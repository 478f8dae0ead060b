using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Federation.Cli.Mesh;
using Federation.Cli.Tests.Infrastructure;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Models;
using YamlDotNet.RepresentationModel;

namespace Federation.Cli.Tests;

[Trait("Needs", "etcd")]
public sealed class MeshCommandTests : IAsyncLifetime
{
    private readonly LabClusters _lab = new();
    private string? _caCert;
    private string? _caKey;

    public async Task InitializeAsync()
    {
        await _lab.InitializeAsync();
        using var ca = Federation.Lab.ApiServer.Pki.LabCertificateAuthority.Create("shared-ca");
        _caCert = Path.Combine(_lab.Directory, "mesh-ca.crt");
        _caKey = Path.Combine(_lab.Directory, "mesh-ca.key");
        ca.Write(_caCert, _caKey);
    }

    public Task DisposeAsync() => _lab.DisposeAsync();

    private Task<CliRun> EnableAsync(string context, string name, uint id, string? endpoint = null, bool sharedCa = true, params string[] extra)
    {
        var args = new List<string> { "enable", "--context", context, "--cluster-name", name, "--cluster-id", id.ToString(System.Globalization.CultureInfo.InvariantCulture), "--etcd-endpoints", endpoint ?? _lab.ReachableEndpoint.Replace("http://", "https://", StringComparison.Ordinal) };
        if (sharedCa)
        {
            args.AddRange(["--ca-cert", _caCert!, "--ca-key", _caKey!]);
        }

        args.AddRange(extra);
        return _lab.RunAsync([.. args]);
    }

    private IKubernetesClient Client(string context)
        => KubernetesClient.Create(KubeconfigLoader.BuildConfiguration(KubeconfigLoader.Load(_lab.Kubeconfig), context));

    private async Task<Dictionary<string, string>> SecretAsync(string context, string name)
    {
        var secret = await Client(context).GetAsync<Secret>(MeshObjects.Namespace, name);
        return secret.Data!.ToDictionary(kv => kv.Key, kv => Encoding.UTF8.GetString(kv.Value));
    }

    private static void Succeeded(CliRun run) => Assert.True(run.ExitCode == 0, run.ToString());

    private static void Refused(CliRun run, params string[] phrases)
    {
        Assert.True(run.ExitCode == 1, run.ToString());
        var lines = run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("hint: ", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
        foreach (var phrase in phrases)
        {
            Assert.Contains(phrase, run.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Enable_creates_the_ca_certificates_and_config_and_a_second_run_changes_nothing()
    {
        var first = await EnableAsync("ctx-a", "cluster-a", 1, extra: ["--status-url", "http://127.0.0.1:1"]);
        Succeeded(first);
        Assert.Contains("created (imported CA)", first.Output, StringComparison.Ordinal);

        var config = await Client("ctx-a").GetAsync<ConfigMap>(MeshObjects.Namespace, MeshObjects.ConfigMapName);
        Assert.Equal("cluster-a", config.Data!["cluster-name"]);
        Assert.Equal("1", config.Data["cluster-id"]);
        Assert.Equal("255", config.Data["max-connected-clusters"]);

        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(_caCert!));
        foreach (var (secret, cn) in new[] { (MeshObjects.AdminCertSecret, "admin-cluster-a"), (MeshObjects.RemoteCertSecret, "remote-cluster-a"), (MeshObjects.LocalCertSecret, "local-cluster-a"), (MeshObjects.ServerCertSecret, "cluster-a-etcd") })
        {
            var data = await SecretAsync("ctx-a", secret);
            using var cert = X509Certificate2.CreateFromPem(data["tls.crt"], data["tls.key"]);
            Assert.Equal("CN=" + cn, cert.Subject);
            Assert.Equal(ca.Subject, cert.Issuer);
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            Assert.True(chain.Build(cert), $"{secret} is signed by the imported CA");
        }

        var second = await EnableAsync("ctx-a", "cluster-a", 1);
        Succeeded(second);
        Assert.DoesNotContain("created", second.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("reissued", second.Output, StringComparison.Ordinal);
        Assert.Contains("unchanged", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enable_refuses_an_invalid_name_a_rename_a_bad_id_and_half_a_ca()
    {
        Refused(await EnableAsync("ctx-a", "Bad_Name", 1), "--cluster-name");
        Refused(await EnableAsync("ctx-a", "cluster-a", 0), "--cluster-id");
        Refused(await EnableAsync("ctx-a", "cluster-a", 300), "--cluster-id");
        Refused(await _lab.RunAsync("enable", "--context", "ctx-a", "--cluster-name", "cluster-a", "--cluster-id", "1", "--ca-cert", _caCert!), "--ca-cert and --ca-key");
        Succeeded(await EnableAsync("ctx-a", "cluster-a", 1));
        Refused(await EnableAsync("ctx-a", "cluster-renamed", 1), "already enabled as cluster 'cluster-a'");
        Refused(await _lab.RunAsync("enable", "--context", "no-such-context", "--cluster-name", "x", "--cluster-id", "3"), "context 'no-such-context' not found");
    }

    [Fact]
    public async Task Connect_writes_ciliums_remote_config_both_ways_and_disconnect_removes_it()
    {
        Succeeded(await EnableAsync("ctx-a", "cluster-a", 1));
        Succeeded(await EnableAsync("ctx-b", "cluster-b", 2));
        var run = await _lab.RunAsync("connect", "--context", "ctx-a", "--destination-context", "ctx-b");
        Succeeded(run);
        Assert.Contains("2 link(s)", run.Output, StringComparison.Ordinal);

        foreach (var (reader, target) in new[] { ("a", "b"), ("b", "a") })
        {
            var data = await SecretAsync("ctx-" + reader, MeshObjects.ClusterMeshSecret);
            Assert.Equal(
                new[] { $"cluster-{target}", $"cluster-{target}.etcd-client-ca.crt", $"cluster-{target}.etcd-client.crt", $"cluster-{target}.etcd-client.key" },
                data.Keys.Order(StringComparer.Ordinal));
            var yaml = new YamlStream();
            yaml.Load(new StringReader(data[$"cluster-{target}"]));
            var root = (YamlMappingNode)yaml.Documents[0].RootNode;
            Assert.Equal(_lab.ReachableEndpoint.Replace("http://", "https://", StringComparison.Ordinal), ((YamlSequenceNode)root["endpoints"]).Children.Single().ToString());
            Assert.Equal($"cluster-{target}.etcd-client-ca.crt", root["trusted-ca-file"].ToString());
            Assert.Equal($"cluster-{target}.etcd-client.crt", root["cert-file"].ToString());
            Assert.Equal($"cluster-{target}.etcd-client.key", root["key-file"].ToString());

            // The reader presents its own remote-<reader> certificate; the target's etcd has a user of that name.
            using var cert = X509Certificate2.CreateFromPem(data[$"cluster-{target}.etcd-client.crt"], data[$"cluster-{target}.etcd-client.key"]);
            Assert.Equal($"CN=remote-cluster-{reader}", cert.Subject);
            Assert.Equal((await SecretAsync("ctx-" + target, MeshObjects.CaSecret))["ca.crt"], data[$"cluster-{target}.etcd-client-ca.crt"]);
        }

        var again = await _lab.RunAsync("connect", "--context", "ctx-a", "--destination-context", "ctx-b");
        Succeeded(again);
        Assert.Contains("already connected", again.Output, StringComparison.Ordinal);

        Assert.Equal("cluster-b", (await Client("ctx-a").GetAsync<ConfigMap>(MeshObjects.Namespace, MeshObjects.PeersConfigMap)).Data!["peer-clusters"]);
        Assert.Equal("cluster-a", (await Client("ctx-b").GetAsync<ConfigMap>(MeshObjects.Namespace, MeshObjects.PeersConfigMap)).Data!["peer-clusters"]);

        Succeeded(await _lab.RunAsync("disconnect", "--context", "ctx-a", "--destination-context", "ctx-b"));
        Assert.Equal(string.Empty, (await Client("ctx-a").GetAsync<ConfigMap>(MeshObjects.Namespace, MeshObjects.PeersConfigMap)).Data!["peer-clusters"]);
        Assert.Empty(await SecretAsync("ctx-a", MeshObjects.ClusterMeshSecret));
        Assert.Empty(await SecretAsync("ctx-b", MeshObjects.ClusterMeshSecret));
    }

    [Fact]
    public async Task Connect_mode_mesh_links_every_pair_and_unicast_only_the_source()
    {
        Succeeded(await EnableAsync("ctx-a", "cluster-a", 1));
        Succeeded(await EnableAsync("ctx-b", "cluster-b", 2));
        Succeeded(await EnableAsync("ctx-c", "cluster-c", 3));
        Succeeded(await _lab.RunAsync("connect", "--context", "ctx-a", "--destination-context", "ctx-b", "ctx-c", "--connection-mode", "unicast"));
        Assert.Equal(["cluster-b", "cluster-c"], await MeshConnector.ConnectedAsync(Client("ctx-a"), "ctx-a", default));
        Assert.Empty(await MeshConnector.ConnectedAsync(Client("ctx-b"), "ctx-b", default));

        Succeeded(await _lab.RunAsync("connect", "--context", "ctx-a", "--destination-context", "ctx-b,ctx-c", "--connection-mode", "mesh", "--parallel", "3"));
        Assert.Equal(["cluster-a", "cluster-c"], await MeshConnector.ConnectedAsync(Client("ctx-b"), "ctx-b", default));
        Assert.Equal(["cluster-a", "cluster-b"], await MeshConnector.ConnectedAsync(Client("ctx-c"), "ctx-c", default));
    }

    [Fact]
    public async Task Connect_refuses_same_id_same_name_invalid_name_mismatched_ca_unreachable_destination_and_unenabled_clusters()
    {
        Succeeded(await EnableAsync("ctx-a", "cluster-a", 1));

        Refused(await _lab.RunAsync("connect", "--context", "ctx-a", "--destination-context", "ctx-b"), "ctx-b", "not enabled", "clustermesh enable --context ctx-b");

        Succeeded(await EnableAsync("ctx-b", "cluster-b", 1));
        Refused(await _lab.RunAsync("connect", "--context", "ctx-a", "--destination-context", "ctx-b"), "same cluster ID 1");
        await DeleteConfigAsync("ctx-b");

        Succeeded(await EnableAsync("ctx-b", "cluster-a", 2));
        Refused(await _lab.RunAsync("connect", "--context", "ctx-a", "--destination-context", "ctx-b"), "same cluster name 'cluster-a'");
        await DeleteConfigAsync("ctx-b");

        // A name only a hand-edited ConfigMap can carry (enable refuses it).
        Succeeded(await EnableAsync("ctx-b", "cluster-b", 2));
        await Client("ctx-b").PatchAsync<ConfigMap>(MeshObjects.Namespace, MeshObjects.ConfigMapName, PatchType.Merge, """{"data":{"cluster-name":"Cluster_B"}}""");
        Refused(await _lab.RunAsync("connect", "--context", "ctx-a", "--destination-context", "ctx-b"), "'Cluster_B' is invalid");
        await DeleteConfigAsync("ctx-b");

        Succeeded(await EnableAsync("ctx-c", "cluster-c", 3, sharedCa: false));
        Refused(await _lab.RunAsync("connect", "--context", "ctx-a", "--destination-context", "ctx-c"), "different certificate authorities", "--allow-mismatching-ca");
        var bundled = await _lab.RunAsync("connect", "--context", "ctx-a", "--destination-context", "ctx-c", "--allow-mismatching-ca");
        Succeeded(bundled);
        var bundle = (await SecretAsync("ctx-c", MeshObjects.CaBundleSecret))["ca-bundle.crt"];
        Assert.Contains(File.ReadAllText(_caCert!).Trim(), bundle, StringComparison.Ordinal);

        using var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        Succeeded(await EnableAsync("ctx-b", "cluster-b", 2, endpoint: $"https://127.0.0.1:{port}"));
        Refused(await _lab.RunAsync("connect", "--context", "ctx-a", "--destination-context", "ctx-b"), "etcd of cluster cluster-b (ctx-b) is unreachable", $"127.0.0.1:{port}");
        Assert.DoesNotContain("cluster-b", await MeshConnector.ConnectedAsync(Client("ctx-a"), "ctx-a", default));

        Refused(await _lab.RunAsync("connect", "--context", "ctx-a", "--destination-context", "ctx-a"), "the source context itself");
    }

    [Fact]
    public async Task Status_reports_an_unreachable_apiserver_and_wait_times_out_with_exit_1_in_table_and_json()
    {
        Succeeded(await EnableAsync("ctx-a", "cluster-a", 1, extra: ["--status-url", "http://127.0.0.1:9"]));
        var table = await _lab.RunAsync("status", "--context", "ctx-a");
        Succeeded(table);
        Assert.Contains("cluster-a", table.Output, StringComparison.Ordinal);
        Assert.Contains("clustermesh-apiserver unreachable", table.Output, StringComparison.Ordinal);

        var wait = await _lab.RunAsync("status", "--context", "ctx-a", "--wait", "--wait-duration", "1s", "-o", "json");
        Assert.Equal(1, wait.ExitCode);
        var json = JsonNode.Parse(wait.Output)!;
        Assert.False(json["ready"]!.GetValue<bool>());
        Assert.Equal("cluster-a", json["clusters"]![0]!["cluster"]!.GetValue<string>());
        Assert.False(json["clusters"]![0]!["apiserver"]!["reachable"]!.GetValue<bool>());

        Refused(await _lab.RunAsync("status", "--context", "ctx-a", "--wait-duration", "soon"), "--wait-duration");
    }

    [Fact]
    public async Task Service_global_annotates_the_service_and_names_a_missing_one()
    {
        var client = Client("ctx-a");
        await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = "shop" } });
        await client.CreateAsync(new Service { Metadata = new ObjectMeta { Name = "cart", Namespace = "shop" }, Spec = new ServiceSpec { Ports = [new ServicePort { Port = 80, Protocol = "TCP" }] } });
        Succeeded(await _lab.RunAsync("service", "global", "shop/cart", "--context", "ctx-a", "--affinity", "local", "--shared", "false"));
        var annotations = (await client.GetAsync<Service>("shop", "cart")).Metadata.Annotations!;
        Assert.Equal("true", annotations["service.cilium.io/global"]);
        Assert.Equal("local", annotations["service.cilium.io/affinity"]);
        Assert.Equal("false", annotations["service.cilium.io/shared"]);

        Refused(await _lab.RunAsync("service", "global", "shop/missing", "--context", "ctx-a"), "Service shop/missing not found");
        Refused(await _lab.RunAsync("service", "global", "cart", "--context", "ctx-a"), "not NAMESPACE/NAME");
    }

    private async Task DeleteConfigAsync(string context)
        => await Client(context).DeleteAsync<ConfigMap>(MeshObjects.Namespace, MeshObjects.ConfigMapName);
}
