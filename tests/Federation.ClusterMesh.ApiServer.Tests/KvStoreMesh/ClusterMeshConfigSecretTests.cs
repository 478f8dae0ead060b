using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.ClusterMesh.ApiServer.KvStoreMesh;
using Federation.ClusterMesh.ApiServer.Security;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.ClusterMesh.ApiServer.Tests.Services;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Kubernetes.Models;
using KubeNode = Federation.Kubernetes.Models.Node;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Federation.ClusterMesh.ApiServer.Tests.KvStoreMesh;

/// <summary>
/// <c>--clustermesh-config-secret</c>: the Secret <c>cilium-clustermesh</c>, in Cilium's layout (a key per remote cluster
/// and its three certificate files), becomes the <c>--clustermesh-config</c> directory that kvstoremesh reads.
/// </summary>
[SupportedOSPlatform("linux")] // file modes
public sealed class ClusterMeshConfigSecretTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("federation-cm-secret-").FullName;

    private string ConfigDirectory => Path.Combine(_directory, "config");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Files_follow_the_data_atomically_with_mode_0600_and_unsafe_keys_are_skipped()
    {
        Directory.CreateDirectory(ConfigDirectory);
        File.WriteAllText(Path.Combine(ConfigDirectory, "stray"), "not in the Secret");
        var data = new Dictionary<string, byte[]>
        {
            ["b"] = "endpoints:\n- https://127.0.0.1:1\n"u8.ToArray(),
            ["b.etcd-client.crt"] = "cert"u8.ToArray(),
            ["../escape"] = "x"u8.ToArray(),
            ["a/b"] = "x"u8.ToArray(),
            [".hidden"] = "x"u8.ToArray(),
            ["x..y"] = "x"u8.ToArray(),
        };

        var first = ClusterMeshConfigFiles.Apply(ConfigDirectory, data);
        Assert.Equal(["b", "b.etcd-client.crt"], first.Files.ToArray());
        Assert.Equal(["b", "b.etcd-client.crt"], first.Written.ToArray());
        Assert.Equal(["stray"], first.Removed.ToArray());
        Assert.Equal(["../escape", ".hidden", "a/b", "x..y"], first.UnsafeKeys.ToArray());
        Assert.Equal(["b", "b.etcd-client.crt"], Directory.EnumerateFiles(ConfigDirectory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.False(File.Exists(Path.Combine(_directory, "escape")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(ConfigDirectory, "b")));
        Assert.Equal("cert", File.ReadAllText(Path.Combine(ConfigDirectory, "b.etcd-client.crt")));

        // Unchanged data writes nothing; a file changed or loosened behind our back is written again.
        Assert.Empty(ClusterMeshConfigFiles.Apply(ConfigDirectory, data).Written);
        File.SetUnixFileMode(Path.Combine(ConfigDirectory, "b"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        File.WriteAllText(Path.Combine(ConfigDirectory, "b.etcd-client.crt"), "edited");
        Assert.Equal(["b", "b.etcd-client.crt"], ClusterMeshConfigFiles.Apply(ConfigDirectory, data).Written.ToArray());
        Assert.Equal("cert", File.ReadAllText(Path.Combine(ConfigDirectory, "b.etcd-client.crt")));

        data.Remove("b.etcd-client.crt");
        Assert.Equal(["b.etcd-client.crt"], ClusterMeshConfigFiles.Apply(ConfigDirectory, data).Removed.ToArray());

        // No Secret: no files.
        Assert.Equal(["b"], ClusterMeshConfigFiles.Apply(ConfigDirectory, null).Removed.ToArray());
        Assert.Empty(Directory.EnumerateFileSystemEntries(ConfigDirectory));
    }

    [Theory]
    [InlineData("--clustermesh-config-secret kube-system/cilium-clustermesh", "--clustermesh-config-secret: requires --clustermesh-config DIR")]
    [InlineData("--clustermesh-config-secret cilium-clustermesh --clustermesh-config /nonexistent", "--clustermesh-config-secret: 'cilium-clustermesh' is not NAMESPACE/NAME")]
    [InlineData("--clustermesh-config-secret a/b/c --clustermesh-config /nonexistent", "--clustermesh-config-secret: 'a/b/c' is not NAMESPACE/NAME")]
    public void Bad_secret_flags_are_errors_naming_the_flag(string flags, string error)
    {
        var (_, errors) = ApiServerFlags.Parse(["--cluster-name", "a", "--cluster-id", "1", "--etcd-endpoints", "http://127.0.0.1:2379", .. flags.Split(' ')]);
        Assert.Contains(errors, e => e.StartsWith(error, StringComparison.Ordinal));
        Assert.Contains("--clustermesh-config-secret NS/NAME", ApiServerFlags.Usage, StringComparison.Ordinal);
    }

    [Fact]
    public void With_a_secret_the_config_directory_need_not_exist_yet()
    {
        var (options, errors) = ApiServerFlags.Parse(
            ["--cluster-name", "a", "--cluster-id", "1", "--etcd-endpoints", "http://127.0.0.1:2379",
             "--clustermesh-config", ConfigDirectory, "--clustermesh-config-secret", "kube-system/cilium-clustermesh"]);
        Assert.Empty(errors);
        Assert.Equal(("kube-system", "cilium-clustermesh"), options.ClusterMeshConfigSecretRef);
    }
}

/// <summary>Two clusters: b exports a node to its mTLS etcd; a mirrors b as the Secret in a's Kubernetes API says.</summary>
[Trait("Needs", "etcd")]
[SupportedOSPlatform("linux")] // file modes
[Collection(KvStoreMeshCollection.Name)]
public sealed class ClusterMeshConfigSecretMeshTests : IAsyncLifetime
{
    private const string SecretNamespace = "kube-system";
    private const string SecretName = "cilium-clustermesh";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly ClusterEnvironment _a = new();
    private readonly ClusterEnvironment _b = new();
    private EtcdServer _bEtcd = null!;
    private string _certs = null!;

    private string ConfigDirectory => Path.Combine(_a.Directory, "clustermesh");

    public async Task InitializeAsync()
    {
        await Task.WhenAll(_a.InitializeAsync(), _b.InitializeAsync());
        _certs = Path.Combine(_b.Directory, "mesh-certs");
        Assert.Equal(0, CertificateToolCommand.Run(["--out", _certs, "--cluster", "b", "--peers", "a"], TextWriter.Null, TextWriter.Null));
        _bEtcd = await EtcdServer.StartAsync(new EtcdServerOptions
        {
            Tls = true,
            ExtraArguments =
            [
                "--cert-file=" + Path.Combine(_certs, "etcd-server.crt"),
                "--key-file=" + Path.Combine(_certs, "etcd-server.key"),
                "--trusted-ca-file=" + Path.Combine(_certs, "ca.crt"),
            ],
        });
    }

    public async Task DisposeAsync()
    {
        await Task.WhenAll(_a.DisposeAsync(), _b.DisposeAsync());
        await _bEtcd.DisposeAsync();
    }

    [Fact]
    public async Task A_remote_in_the_secret_is_mirrored_and_removing_it_from_the_secret_removes_its_file_and_the_remote()
    {
        // b: its apiserver on an mTLS etcd, with a read-only user for a (remote-a), exporting one node.
        var b = _b.Options("b", 2);
        b.EtcdEndpoints = [.. _bEtcd.ClientEndpoints];
        b.EtcdCaFile = Path.Combine(_certs, "ca.crt");
        b.EtcdCertFile = Path.Combine(_certs, "admin-b.crt");
        b.EtcdKeyFile = Path.Combine(_certs, "admin-b.key");
        b.PeerClusters = ["a"];
        b.HeartbeatInterval = TimeSpan.FromSeconds(1);
        await _b.StartApiServerAsync(b);
        await _b.ApplyYamlAsync<KubeNode>("""
            apiVersion: v1
            kind: Node
            metadata:
              name: node-b1
            """);

        // a: kvstoremesh fed from the Secret, in a directory that does not exist yet.
        var a = _a.Options("a", 1);
        a.HeartbeatInterval = TimeSpan.FromSeconds(1);
        a.ClusterMeshConfig = ConfigDirectory;
        a.ClusterMeshConfigSecret = $"{SecretNamespace}/{SecretName}";
        a.KvStoreMeshDrainGrace = TimeSpan.FromSeconds(1);
        var host = await ApiServerHost.StartAsync(
            a,
            logging => logging.SetMinimumLevel(LogLevel.Warning),
            services => services.AddSingleton(new KvStoreMeshTuning { ConfigPollInterval = TimeSpan.FromMilliseconds(200), BackoffMin = TimeSpan.FromMilliseconds(100), BackoffMax = TimeSpan.FromSeconds(1) }));
        await using var stop = host;
        Assert.True(Directory.Exists(ConfigDirectory));
        await Eventually.TrueAsync(async () => (bool?)(await StatusAsync(host))["synced"] == true, Timeout, "the (absent) Secret listed");
        Assert.Empty(Directory.EnumerateFileSystemEntries(ConfigDirectory));

        // The Secret as Cilium's tooling lays it out, created with kubectl: relative certificate paths.
        await _a.ApplyYamlAsync<Namespace>("""
            apiVersion: v1
            kind: Namespace
            metadata:
              name: kube-system
            """);
        var source = Path.Combine(_a.Directory, "secret-source");
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "b"), $"""
            endpoints:
            - {_bEtcd.ClientEndpoints[0]}
            trusted-ca-file: b.etcd-client-ca.crt
            cert-file: b.etcd-client.crt
            key-file: b.etcd-client.key

            """);
        // `kubectl create secret` would send protobuf, which the lab API server does not read: generate, then create from JSON.
        var manifest = await KubectlAsync(
            "create", "secret", "generic", SecretName, "-n", SecretNamespace, "--dry-run=client", "-o", "json",
            "--from-file=b=" + Path.Combine(source, "b"),
            "--from-file=b.etcd-client-ca.crt=" + Path.Combine(_certs, "ca.crt"),
            "--from-file=b.etcd-client.crt=" + Path.Combine(_certs, "remote-a.crt"),
            "--from-file=b.etcd-client.key=" + Path.Combine(_certs, "remote-a.key"));
        File.WriteAllText(Path.Combine(source, "secret.json"), manifest);
        await KubectlAsync("create", "-f", Path.Combine(source, "secret.json"));

        // The cached config and the cached entries are written by different stores: neither waits for the other.
        await Eventually.TrueAsync(async () => await _a.Mesh.GetAsync(ClusterMeshKeys.CachedNode("b", "node-b1")) is not null, Timeout, "b's node in a's cache");
        await Eventually.TrueAsync(async () => await _a.Mesh.GetAsync(ClusterMeshKeys.ClusterConfig("b")) is not null, Timeout, "b's cached config in a's etcd");
        Assert.Equal(["b", "b.etcd-client-ca.crt", "b.etcd-client.crt", "b.etcd-client.key"], Files());
        Assert.Equal(File.ReadAllBytes(Path.Combine(_certs, "remote-a.key")), File.ReadAllBytes(Path.Combine(ConfigDirectory, "b.etcd-client.key")));
        Assert.All(Files(), f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(ConfigDirectory, f))));
        await Eventually.TrueAsync(
            async () => (string?)(await StatusAsync(host, "kvstoremesh"))["remotes"]!["clusters"]!.AsArray().Single()!["state"] == "Ready",
            Timeout,
            "b Ready (every kind listed)");
        Assert.Empty((await StatusAsync(host, "kvstoremesh"))["remotes"]!["rejected"]!.AsArray());

        // b leaves the Secret; two keys that are not safe file names arrive and are skipped.
        var secret = await _a.Kubernetes.GetAsync<Secret>(SecretNamespace, SecretName);
        await _a.Kubernetes.UpdateAsync(secret with
        {
            Data = new Dictionary<string, byte[]> { ["notes"] = "kept"u8.ToArray(), ["../escape"] = "x"u8.ToArray(), [".hidden"] = "x"u8.ToArray() },
        });
        await Eventually.TrueAsync(() => Files().SequenceEqual(["notes"]), Timeout, "b's files removed, notes written");
        Assert.False(File.Exists(Path.Combine(_a.Directory, "escape")));
        await Eventually.TrueAsync(async () => await _a.Mesh.GetAsync(ClusterMeshKeys.ClusterConfig("b")) is null, Timeout, "b's cached config deleted");
        await Eventually.TrueAsync(async () => await _a.Mesh.CountPrefixAsync("cilium/cache/") == 0, Timeout, "b's cache drained");
        var status = await StatusAsync(host);
        Assert.Equal(["../escape", ".hidden"], status["skippedKeys"]!.AsArray().Select(k => (string?)k));
        using var http = new HttpClient { BaseAddress = host.HealthUri };
        Assert.Matches("federation_clustermesh_config_secret_skipped_keys_total [1-9]", await http.GetStringAsync("metrics"));

        // The Secret deleted: no files.
        await _a.DeleteAsync<Secret>(SecretNamespace, SecretName);
        await Eventually.TrueAsync(() => Files().Length == 0, Timeout, "every file removed with the Secret");
        Assert.False((bool)(await StatusAsync(host))["secretExists"]!);
    }

    private string[] Files() => [.. Directory.EnumerateFiles(ConfigDirectory).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal)];

    private static async Task<JsonNode> StatusAsync(ApiServerHost host, string part = "clustermeshConfigSecret")
    {
        using var http = new HttpClient { BaseAddress = host.HealthUri };
        return JsonNode.Parse(await http.GetStringAsync("status"))![part]!;
    }

    private async Task<string> KubectlAsync(params string[] args)
    {
        var start = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("--kubeconfig=" + _a.KubeconfigPath);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Timeout);
        Assert.True(process.ExitCode == 0, $"kubectl {string.Join(' ', args)}: exit {process.ExitCode}\n{await stdout}{await stderr}");
        return await stdout;
    }
}
