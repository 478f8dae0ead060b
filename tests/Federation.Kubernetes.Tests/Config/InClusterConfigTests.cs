using System.Text;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Tests.TestSupport;

namespace Federation.Kubernetes.Tests;

public sealed class InClusterConfigTests : IDisposable
{
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    private static Func<string, string?> Env(string? host, string? port)
        => name => name switch
        {
            "KUBERNETES_SERVICE_HOST" => host,
            "KUBERNETES_SERVICE_PORT" => port,
            _ => null,
        };

    [Fact]
    public void Service_account_files_and_environment_make_the_configuration()
    {
        _root.Write("token", "sa-token\n");
        _root.Write("ca.crt", "CA-PEM");
        _root.Write("namespace", "federation-system\n");

        var config = InClusterConfig.Load(_root.Path, Env("10.96.0.1", "443"));

        Assert.Equal(new Uri("https://10.96.0.1:443"), config.Server);
        Assert.Equal("federation-system", config.Namespace);
        Assert.Equal(Path.Combine(_root.Path, "token"), config.TokenFile);
        Assert.Equal("CA-PEM", Encoding.ASCII.GetString(config.CertificateAuthorityData!));
    }

    [Fact]
    public void IPv6_service_host_is_bracketed_and_namespace_defaults()
    {
        _root.Write("token", "t");
        _root.Write("ca.crt", "CA");

        var config = InClusterConfig.Load(_root.Path, Env("fd00::1", "6443"));

        Assert.Equal("[fd00::1]", config.Server.Host);
        Assert.Equal(6443, config.Server.Port);
        Assert.Equal("default", config.Namespace);
    }

    [Fact]
    public void Outside_a_pod_the_error_names_the_missing_variables()
    {
        var error = Assert.Throws<KubeconfigException>(() => InClusterConfig.Load(_root.Path, Env(null, null)));

        Assert.Contains("KUBERNETES_SERVICE_HOST", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_token_is_reported_with_its_path()
    {
        _root.Write("ca.crt", "CA");

        var error = Assert.Throws<KubeconfigException>(() => InClusterConfig.Load(_root.Path, Env("10.0.0.1", "443")));

        Assert.Contains(Path.Combine(_root.Path, "token"), error.Message, StringComparison.Ordinal);
    }
}
