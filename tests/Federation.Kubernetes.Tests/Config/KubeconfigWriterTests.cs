using System.Text;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Tests.TestSupport;

namespace Federation.Kubernetes.Tests;

public sealed class KubeconfigWriterTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Written_kubeconfig_reads_back_with_inline_data_and_kubectl_field_names()
    {
        var kubeconfig = new Kubeconfig
        {
            Clusters = [new KubeconfigCluster { Name = "lab-1", Server = "https://127.0.0.1:7001", CertificateAuthorityData = Encoding.ASCII.GetBytes("CA") }],
            Users =
            [
                new KubeconfigUser { Name = "admin", ClientCertificateData = Encoding.ASCII.GetBytes("CERT"), ClientKeyData = Encoding.ASCII.GetBytes("KEY") },
                new KubeconfigUser { Name = "bot", Token = "t0ken" },
            ],
            Contexts =
            [
                new KubeconfigContext { Name = "lab-1", Cluster = "lab-1", User = "admin", Namespace = "demo" },
                new KubeconfigContext { Name = "lab-1-bot", Cluster = "lab-1", User = "bot" },
            ],
            CurrentContext = "lab-1",
        };
        var path = Path.Combine(_dir.Path, "out", "kubeconfig");

        KubeconfigWriter.WriteFile(path, kubeconfig);
        var text = File.ReadAllText(path);
        var admin = KubernetesClientConfiguration.FromKubeconfig(kubeconfigPath: path);
        var bot = KubernetesClientConfiguration.FromKubeconfig("lab-1-bot", path);

        Assert.Contains("certificate-authority-data: " + Convert.ToBase64String(Encoding.ASCII.GetBytes("CA")), text, StringComparison.Ordinal);
        Assert.Contains("client-key-data:", text, StringComparison.Ordinal);
        Assert.Contains("current-context: lab-1", text, StringComparison.Ordinal);
        Assert.DoesNotContain("insecure-skip-tls-verify", text, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        Assert.Equal(7001, admin.Server.Port);
        Assert.Equal("demo", admin.Namespace);
        Assert.Equal("CERT", Encoding.ASCII.GetString(admin.ClientCertificateData!));
        Assert.Equal("KEY", Encoding.ASCII.GetString(admin.ClientKeyData!));
        Assert.Equal("CA", Encoding.ASCII.GetString(admin.CertificateAuthorityData!));
        Assert.Equal("t0ken", bot.Token);
    }
}
