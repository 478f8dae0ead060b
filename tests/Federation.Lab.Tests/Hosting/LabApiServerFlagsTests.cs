using Federation.Lab.ApiServer.Hosting;

namespace Federation.Lab.Tests.Hosting;

public sealed class LabApiServerFlagsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lab-flags-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Valid_flags_become_options()
    {
        var (options, errors) = LabApiServerFlags.Parse(Valid());

        Assert.Empty(errors);
        Assert.Equal("127.0.0.1:7443", options.Listen.ToString());
        Assert.Equal("/lab", options.EtcdPrefix);
        Assert.Equal("127.96.2.0/24", options.ServiceClusterIpRange);
        Assert.Equal("alpha", options.ClusterName);
        Assert.Equal([new Uri("http://127.0.0.1:2379"), new Uri("http://127.0.0.1:2380")], options.EtcdEndpoints);
    }

    [Theory]
    [InlineData("--service-cluster-ip-range=10.96.0.0/16", "--service-cluster-ip-range: '10.96.0.0/16' is not inside 127.96.0.0/16")]
    [InlineData("--service-cluster-ip-range=127.0.0.0/8", "--service-cluster-ip-range: '127.0.0.0/8' is not inside 127.96.0.0/16")]
    [InlineData("--service-cluster-ip-range=banana", "--service-cluster-ip-range: 'banana' is not an IPv4 CIDR")]
    [InlineData("--listen=0.0.0.0:6443", "--listen: 0.0.0.0:6443 is not a loopback address")]
    [InlineData("--listen=nope", "--listen: 'nope' is not ADDRESS:PORT")]
    [InlineData("--frobnicate=1", "--frobnicate: unknown flag")]
    [InlineData("--etcd-endpoints=ftp://x", "--etcd-endpoints: 'ftp://x/' is not an http:// or https:// URL")]
    [InlineData("--cluster-name=Not_Valid", "--cluster-name: 'Not_Valid' must be a DNS-1123 label")]
    public void Bad_flags_fail_naming_the_flag(string flag, string expected)
    {
        var name = flag[..flag.IndexOf('=')];
        var args = Valid().Where(a => !a.StartsWith(name + "=", StringComparison.Ordinal)).Append(flag).ToList();
        if (name == "--etcd-endpoints")
        {
            args = [.. args.Where(a => !a.StartsWith("--etcd-endpoints", StringComparison.Ordinal)), flag];
        }

        var (_, errors) = LabApiServerFlags.Parse(args);

        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_certificate_files_are_named()
    {
        var (_, errors) = LabApiServerFlags.Parse(["--etcd-endpoints", "http://127.0.0.1:2379", "--tls-cert-file", Path.Combine(_directory, "absent.crt")]);

        Assert.Contains(errors, e => e.StartsWith("--tls-cert-file: file '", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("--tls-private-key-file: required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("--client-ca-file: required", StringComparison.Ordinal));
    }

    private List<string> Valid()
    {
        var file = Path.Combine(_directory, "any.pem");
        File.WriteAllText(file, "x");
        return
        [
            "--etcd-endpoints=http://127.0.0.1:2379,http://127.0.0.1:2380",
            "--etcd-prefix=/lab",
            "--listen=127.0.0.1:7443",
            $"--tls-cert-file={file}",
            $"--tls-private-key-file={file}",
            $"--client-ca-file={file}",
            "--service-cluster-ip-range=127.96.2.0/24",
            "--cluster-name=alpha",
        ];
    }
}
