using System.Net;
using System.Security.Cryptography.X509Certificates;
using Federation.ClusterMesh.ApiServer.Security;

namespace Federation.ClusterMesh.ApiServer.Tests.Security;

public sealed class CertificateToolTests : IDisposable
{
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";
    private readonly string _dir = Directory.CreateTempSubdirectory("federation-certs-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Generated_certificates_chain_to_the_ca_with_the_user_as_cn_the_right_usages_and_owner_only_keys()
    {
        var output = new StringWriter();
        var exit = CertificateToolCommand.Run(["--out", _dir, "--cluster", "cluster1", "--peers", "cluster2,cluster3"], output, TextWriter.Null);

        Assert.Equal(0, exit);
        Assert.Equal(
            ["admin-cluster1", "ca", "etcd-server", "local-cluster1", "remote-cluster2", "remote-cluster3"],
            Directory.GetFiles(_dir).Select(Path.GetFileNameWithoutExtension).Distinct().Order(StringComparer.Ordinal));
        using var ca = X509Certificate2.CreateFromPemFile(Path.Combine(_dir, "ca.crt"), Path.Combine(_dir, "ca.key"));
        Assert.True(ca.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);

        foreach (var user in new[] { "admin-cluster1", "local-cluster1", "remote-cluster2", "remote-cluster3" })
        {
            using var client = Load(user, ca);
            Assert.Equal(user, client.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
            Assert.Equal([ClientAuth], Usages(client));
            Assert.Contains(user + ".crt", output.ToString(), StringComparison.Ordinal);
        }

        using var server = Load("etcd-server", ca);
        Assert.Equal([ServerAuth, ClientAuth], Usages(server).Order(StringComparer.Ordinal));
        var san = server.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["localhost"], san.EnumerateDnsNames());
        Assert.Equal([IPAddress.Loopback], san.EnumerateIPAddresses());

        if (!OperatingSystem.IsWindows())
        {
            foreach (var key in Directory.GetFiles(_dir, "*.key"))
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
            }
        }

        Assert.Contains("give to cluster cluster2", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Given_ca_is_reused_and_its_key_is_not_copied()
    {
        var first = Path.Combine(_dir, "first");
        var second = Path.Combine(_dir, "second");
        Assert.Equal(0, CertificateToolCommand.Run(["--out", first, "--cluster", "cluster1"], TextWriter.Null, TextWriter.Null));

        var exit = CertificateToolCommand.Run(
            ["--out", second, "--cluster", "cluster2", "--peers", "cluster1", "--ca-cert", Path.Combine(first, "ca.crt"), "--ca-key", Path.Combine(first, "ca.key")],
            TextWriter.Null, TextWriter.Null);

        Assert.Equal(0, exit);
        Assert.False(File.Exists(Path.Combine(second, "ca.key")));
        Assert.Equal(File.ReadAllText(Path.Combine(first, "ca.crt")), File.ReadAllText(Path.Combine(second, "ca.crt")));
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(first, "ca.crt")));
        using var remote = Load("remote-cluster1", ca, second);
        Assert.Equal("remote-cluster1", remote.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
    }

    [Fact]
    public void Existing_ca_key_is_never_overwritten()
    {
        Assert.Equal(0, CertificateToolCommand.Run(["--out", _dir, "--cluster", "cluster1"], TextWriter.Null, TextWriter.Null));
        var caKey = File.ReadAllText(Path.Combine(_dir, "ca.key"));
        var error = new StringWriter();

        var exit = CertificateToolCommand.Run(["--out", _dir, "--cluster", "cluster1"], TextWriter.Null, error);

        Assert.Equal(2, exit);
        Assert.Contains("already holds a CA key", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(caKey, File.ReadAllText(Path.Combine(_dir, "ca.key")));
    }

    [Theory]
    [InlineData(new[] { "--cluster", "cluster1" }, "--out")]
    [InlineData(new[] { "--out", "x" }, "--cluster")]
    [InlineData(new[] { "--out", "x", "--cluster", "Bad_Name" }, "--cluster")]
    [InlineData(new[] { "--out", "x", "--cluster", "c1", "--peers", "c2,c1" }, "--peers")]
    [InlineData(new[] { "--out", "x", "--cluster", "c1", "--ca-cert", "ca.crt" }, "--ca-cert")]
    [InlineData(new[] { "--out", "x", "--cluster", "c1", "--bogus", "1" }, "--bogus")]
    public void Bad_flags_are_refused_naming_the_flag(string[] args, string flag)
    {
        var error = new StringWriter();

        var exit = CertificateToolCommand.Run(args, TextWriter.Null, error);

        Assert.Equal(2, exit);
        Assert.StartsWith("error: " + flag, error.ToString(), StringComparison.Ordinal);
    }

    private X509Certificate2 Load(string name, X509Certificate2 ca, string? dir = null)
    {
        dir ??= _dir;
        var certificate = X509Certificate2.CreateFromPemFile(Path.Combine(dir, name + ".crt"), Path.Combine(dir, name + ".key"));
        Assert.True(certificate.HasPrivateKey);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(certificate), $"{name} does not chain to the CA: {string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation))}");
        return certificate;
    }

    private static string[] Usages(X509Certificate2 certificate)
        => [.. certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value!)];
}
