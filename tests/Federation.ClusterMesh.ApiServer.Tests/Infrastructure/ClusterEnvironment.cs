using System.Net;
using System.Text;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.Etcd;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Federation.Lab.ApiServer.Hosting;
using Federation.Lab.ApiServer.Pki;
using Microsoft.Extensions.Logging;
using KubeClient = Federation.Kubernetes.Client.KubernetesClient;

namespace Federation.ClusterMesh.ApiServer.Tests.Infrastructure;

/// <summary>
/// One cluster for the apiserver's tests: a real etcd for the Kubernetes objects (the lab API server's
/// store), a separate real etcd that the clustermesh-apiserver exports to (as in a real deployment), the
/// lab API server over mTLS, a kubeconfig for it, and helpers to start clustermesh-apiservers.
/// Everything is removed on dispose.
/// </summary>
public sealed class ClusterEnvironment : IAsyncLifetime
{
    private readonly List<ApiServerHost> _apiServers = [];
    private LabCertificateAuthority? _ca;

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("federation-cm-tests-").FullName;

    /// <summary>Holds the lab API server's objects.</summary>
    public EtcdServer KubernetesEtcd { get; private set; } = null!;

    /// <summary>The cluster's ClusterMesh etcd (what the apiserver writes).</summary>
    public EtcdServer MeshEtcd { get; private set; } = null!;

    /// <summary>A client of <see cref="MeshEtcd"/> for assertions.</summary>
    public IEtcdClient Mesh { get; private set; } = null!;

    public LabApiServerHost Lab { get; private set; } = null!;

    /// <summary>A Kubernetes client of the lab API server, for applying objects.</summary>
    public IKubernetesClient Kubernetes { get; private set; } = null!;

    public string KubeconfigPath => Path.Combine(Directory, "kubeconfig");

    public async Task InitializeAsync()
    {
        KubernetesEtcd = await EtcdServer.StartAsync();
        MeshEtcd = await EtcdServer.StartAsync();
        Mesh = EtcdClient.Create(new EtcdClientOptions { Endpoints = [.. MeshEtcd.ClientEndpoints] });
        _ca = LabCertificateAuthority.Create();
        var caFile = Path.Combine(Directory, "ca.crt");
        File.WriteAllText(caFile, _ca.CertificatePem);
        _ca.IssueServer("lab-apiserver", [IPAddress.Loopback]).Write(Path.Combine(Directory, "apiserver.crt"), Path.Combine(Directory, "apiserver.key"));
        Lab = await LabApiServerHost.StartAsync(
            new LabApiServerOptions
            {
                EtcdEndpoints = [.. KubernetesEtcd.ClientEndpoints],
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                TlsCertFile = Path.Combine(Directory, "apiserver.crt"),
                TlsPrivateKeyFile = Path.Combine(Directory, "apiserver.key"),
                ClientCaFile = caFile,
                ServiceClusterIpRange = "127.96.1.0/24",
                ClusterName = "cluster1",
            },
            logging => logging.SetMinimumLevel(LogLevel.Warning));
        var admin = _ca.IssueClient("clustermesh-apiserver", ["system:masters"]);
        KubeconfigWriter.WriteFile(KubeconfigPath, new Kubeconfig
        {
            Clusters = [new KubeconfigCluster { Name = "cluster1", Server = Lab.BaseUri.GetLeftPart(UriPartial.Authority), CertificateAuthorityData = Encoding.UTF8.GetBytes(_ca.CertificatePem) }],
            Users = [new KubeconfigUser { Name = "admin", ClientCertificateData = Encoding.UTF8.GetBytes(admin.CertificatePem), ClientKeyData = Encoding.UTF8.GetBytes(admin.PrivateKeyPem) }],
            Contexts = [new KubeconfigContext { Name = "cluster1", Cluster = "cluster1", User = "admin", Namespace = "default" }],
            CurrentContext = "cluster1",
        });
        Kubernetes = KubeClient.Create(KubernetesClientConfiguration.FromKubeconfig("cluster1", KubeconfigPath));
    }

    /// <summary>Options for an apiserver of this cluster (health on a free loopback port); adjust and start.</summary>
    public ApiServerOptions Options(string clusterName = "cluster1", uint clusterId = 1) => new()
    {
        ClusterName = clusterName,
        ClusterId = clusterId,
        EtcdEndpoints = [.. MeshEtcd.ClientEndpoints],
        Kubeconfig = KubeconfigPath,
        KubeContext = "cluster1",
        HealthListen = new IPEndPoint(IPAddress.Loopback, 0),
        LeaseTtl = TimeSpan.FromMinutes(15),
    };

    /// <summary>Starts a clustermesh-apiserver; it is stopped on dispose (or earlier with <see cref="StopAsync"/>).</summary>
    public async Task<ApiServerHost> StartApiServerAsync(ApiServerOptions? options = null)
    {
        var host = await ApiServerHost.StartAsync(options ?? Options(), logging => logging.SetMinimumLevel(LogLevel.Warning));
        _apiServers.Add(host);
        return host;
    }

    public async Task StopAsync(ApiServerHost host)
    {
        if (_apiServers.Remove(host))
        {
            await host.DisposeAsync();
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _apiServers)
        {
            await host.DisposeAsync();
        }

        (Kubernetes as IDisposable)?.Dispose();
        if (Lab is not null)
        {
            await Lab.DisposeAsync();
        }

        if (Mesh is not null)
        {
            await Mesh.DisposeAsync();
        }

        if (MeshEtcd is not null)
        {
            await MeshEtcd.DisposeAsync();
        }

        if (KubernetesEtcd is not null)
        {
            await KubernetesEtcd.DisposeAsync();
        }

        _ca?.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
