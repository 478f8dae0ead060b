using System.Net;
using System.Text;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Kubernetes.Config;
using Federation.Lab.ApiServer.Hosting;
using Federation.Lab.ApiServer.Pki;
using Microsoft.Extensions.Logging;

namespace Federation.Cli.Tests.Infrastructure;

/// <summary>
/// Three lab Kubernetes API servers (contexts <c>ctx-a</c>, <c>ctx-b</c>, <c>ctx-c</c>) on one real etcd, each under its own
/// prefix, and a kubeconfig naming them; the CLI runs in-process against it.
/// </summary>
public sealed class LabClusters : IAsyncLifetime
{
    public static readonly string[] Contexts = ["ctx-a", "ctx-b", "ctx-c"];

    private readonly List<LabApiServerHost> _hosts = [];
    private EtcdServer? _etcd;

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "federation-cli-tests", Guid.NewGuid().ToString("N")[..12]);

    public string Kubeconfig => Path.Combine(Directory, "kubeconfig");

    /// <summary>A real etcd (plain HTTP) whose address serves as a reachable "mesh etcd" endpoint.</summary>
    public string ReachableEndpoint => _etcd!.ClientEndpoints[0].GetLeftPart(UriPartial.Authority);

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        _etcd = await EtcdServer.StartAsync();
        using var ca = LabCertificateAuthority.Create();
        var caFile = Path.Combine(Directory, "ca.crt");
        File.WriteAllText(caFile, ca.CertificatePem);
        ca.IssueServer("lab", [IPAddress.Loopback]).Write(Path.Combine(Directory, "server.crt"), Path.Combine(Directory, "server.key"));
        var user = ca.IssueClient("admin", ["system:masters"]);
        var clusters = new List<KubeconfigCluster>();
        var contexts = new List<KubeconfigContext>();
        for (var i = 0; i < Contexts.Length; i++)
        {
            var host = await LabApiServerHost.StartAsync(
                new LabApiServerOptions
                {
                    EtcdEndpoints = [.. _etcd.ClientEndpoints],
                    EtcdPrefix = "/registry-" + Contexts[i],
                    Listen = new IPEndPoint(IPAddress.Loopback, 0),
                    TlsCertFile = Path.Combine(Directory, "server.crt"),
                    TlsPrivateKeyFile = Path.Combine(Directory, "server.key"),
                    ClientCaFile = caFile,
                    ServiceClusterIpRange = $"127.96.{100 + i}.0/28",
                    ClusterName = Contexts[i],
                },
                l => l.SetMinimumLevel(LogLevel.Warning));
            _hosts.Add(host);
            clusters.Add(new KubeconfigCluster { Name = Contexts[i], Server = host.BaseUri.GetLeftPart(UriPartial.Authority), CertificateAuthorityData = Encoding.UTF8.GetBytes(ca.CertificatePem) });
            contexts.Add(new KubeconfigContext { Name = Contexts[i], Cluster = Contexts[i], User = "admin" });
        }

        KubeconfigWriter.WriteFile(Kubeconfig, new Kubeconfig
        {
            Clusters = clusters,
            Users = [new KubeconfigUser { Name = "admin", ClientCertificateData = Encoding.UTF8.GetBytes(user.CertificatePem), ClientKeyData = Encoding.UTF8.GetBytes(user.PrivateKeyPem) }],
            Contexts = contexts,
            CurrentContext = Contexts[0],
        });
    }

    /// <summary>Runs the CLI with <c>--kubeconfig</c> set; returns the exit code and both outputs.</summary>
    public async Task<CliRun> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var app = new CliApp(output, error, interactive: false);
        var code = await app.RunAsync([.. args, "--kubeconfig", Kubeconfig]);
        return new CliRun(code, output.ToString(), error.ToString());
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        if (_etcd is not null)
        {
            await _etcd.DisposeAsync();
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>What one CLI run printed.</summary>
public sealed record CliRun(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";
}
