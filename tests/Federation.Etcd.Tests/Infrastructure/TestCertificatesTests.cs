using System.Security.Cryptography.X509Certificates;

namespace Federation.Etcd.Tests.Infrastructure;

public sealed class TestCertificatesTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "federation-certs-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Server_certificate_is_issued_by_the_ca_for_127_0_0_1_and_localhost()
    {
        using var certificates = TestCertificates.Create(_directory);
        using var server = X509Certificate2.CreateFromPemFile(certificates.ServerCertFile, certificates.ServerKeyFile);

        Assert.True(ChainsTo(certificates.CaCertificate, server));
        var san = Assert.Single(server.Extensions.OfType<X509SubjectAlternativeNameExtension>());
        Assert.Contains(System.Net.IPAddress.Loopback, san.EnumerateIPAddresses());
        Assert.Contains("localhost", san.EnumerateDnsNames());
        Assert.True(server.MatchesHostname("127.0.0.1"));
    }

    [Fact]
    public void Client_certificate_carries_the_common_name_clientAuth_and_its_private_key()
    {
        using var certificates = TestCertificates.Create(_directory);

        var (certFile, keyFile, certificate) = certificates.CreateClient("root");

        Assert.True(certificate.HasPrivateKey);
        Assert.Equal("root", certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
        var usages = Assert.Single(certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>()).EnhancedKeyUsages;
        Assert.Contains(usages.Cast<System.Security.Cryptography.Oid>(), o => o.Value == "1.3.6.1.5.5.7.3.2");
        Assert.True(ChainsTo(certificates.CaCertificate, certificate));
        using var fromFiles = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        Assert.Equal(certificate.Thumbprint, fromFiles.Thumbprint);
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static bool ChainsTo(X509Certificate2 ca, X509Certificate2 leaf)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        return chain.Build(leaf);
    }
}
