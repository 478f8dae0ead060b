using System.Net;
using System.Security.Cryptography.X509Certificates;
using Federation.Lab.ApiServer.Pki;

namespace Federation.Lab.Tests.Pki;

public sealed class LabCertificateAuthorityTests
{
    [Fact]
    public void Server_certificate_is_for_127_0_0_1_and_chains_to_the_ca()
    {
        using var ca = LabCertificateAuthority.Create();

        using var server = ca.IssueServer("apiserver", [IPAddress.Loopback]).ToCertificate();

        Assert.True(server.MatchesHostname("127.0.0.1"));
        Assert.False(server.MatchesHostname("127.0.0.2"));
        Assert.True(Chains(server, ca.Certificate));
    }

    [Fact]
    public void Client_certificate_carries_the_user_as_cn_and_groups_as_o()
    {
        using var ca = LabCertificateAuthority.Create();

        using var client = ca.IssueClient("alice", ["system:masters", "devs"]).ToCertificate();

        Assert.Equal("alice", client.GetNameInfo(X509NameType.SimpleName, false));
        Assert.Contains("O=system:masters", client.Subject, StringComparison.Ordinal);
        Assert.Contains("O=devs", client.Subject, StringComparison.Ordinal);
        Assert.True(Chains(client, ca.Certificate));
    }

    [Fact]
    public void A_written_ca_loads_back_and_keeps_issuing()
    {
        var directory = Directory.CreateTempSubdirectory("lab-pki-").FullName;
        try
        {
            using var ca = LabCertificateAuthority.Create();
            ca.Write(Path.Combine(directory, "ca.crt"), Path.Combine(directory, "ca.key"));

            using var loaded = LabCertificateAuthority.Load(Path.Combine(directory, "ca.crt"), Path.Combine(directory, "ca.key"));
            using var client = loaded.IssueClient("bob").ToCertificate();

            Assert.True(Chains(client, ca.Certificate));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory, "ca.key")));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static bool Chains(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
