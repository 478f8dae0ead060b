using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Federation.Etcd.Tests.Infrastructure;

[Trait("Needs", "etcd")]
public sealed class EtcdServerTests
{
    [Fact]
    public async Task Plaintext_server_serves_etcdctl_put_and_get()
    {
        await using var server = await EtcdServer.StartAsync();

        var endpoint = Assert.Single(server.ClientEndpoints);
        Assert.Equal("http", endpoint.Scheme);
        Assert.Equal("127.0.0.1", endpoint.Host);
        Assert.Null(server.Certificates);
        await server.EtcdctlAsync("put", "/smoke/key", "plain value");
        Assert.Equal("plain value", (await server.EtcdctlAsync("get", "/smoke/key", "--print-value-only")).Trim());
    }

    [Fact]
    public async Task Tls_server_serves_the_root_client_and_rejects_a_client_without_certificate()
    {
        await using var server = await EtcdServer.StartAsync(new EtcdServerOptions { Tls = true });
        var certificates = Assert.IsType<TestCertificates>(server.Certificates);
        var endpoint = Assert.Single(server.ClientEndpoints);
        Assert.Equal("https", endpoint.Scheme);

        await server.EtcdctlAsync("put", "/smoke/key", "tls value");
        Assert.Equal("tls value", (await server.EtcdctlAsync("get", "/smoke/key", "--print-value-only")).Trim());

        // The X509Certificate2 must work with SslStream (through SocketsHttpHandler), not only the PEM files.
        var alice = certificates.CreateClient("alice");
        using (var withCertificate = HttpClientTrusting(certificates.CaCertificate, alice.Certificate))
        {
            Assert.Contains("\"health\":\"true\"", await withCertificate.GetStringAsync(new Uri(endpoint, "/health")));
        }

        using var withoutCertificate = HttpClientTrusting(certificates.CaCertificate, clientCertificate: null);
        await Assert.ThrowsAsync<HttpRequestException>(() => withoutCertificate.GetStringAsync(new Uri(endpoint, "/health")));
    }

    [Fact]
    public async Task Restart_after_sigterm_and_after_sigkill_keeps_ports_and_data()
    {
        await using var server = await EtcdServer.StartAsync();
        var endpoints = server.ClientEndpoints;
        await server.EtcdctlAsync("put", "/restart/key", "before");

        var firstPid = server.ProcessId!.Value;
        await server.StopAsync();
        Assert.Null(server.ProcessId);
        Assert.False(IsRunning(firstPid));
        await Assert.ThrowsAsync<HttpRequestException>(() => Health.GetStringAsync(new Uri(server.MetricsEndpoint, "/health")));

        await server.StartAgainAsync();
        Assert.Equal(endpoints, server.ClientEndpoints);
        Assert.Equal("before", (await server.EtcdctlAsync("get", "/restart/key", "--print-value-only")).Trim());

        await server.EtcdctlAsync("put", "/restart/key", "after");
        var secondPid = server.ProcessId!.Value;
        await server.StopAsync(kill: true);
        Assert.False(IsRunning(secondPid));

        await server.StartAgainAsync();
        Assert.Equal(endpoints, server.ClientEndpoints);
        Assert.Equal("after", (await server.EtcdctlAsync("get", "/restart/key", "--print-value-only")).Trim());
    }

    [Fact]
    public async Task Tls_server_restarts_with_the_same_certificates()
    {
        await using var server = await EtcdServer.StartAsync(new EtcdServerOptions { Tls = true });
        await server.EtcdctlAsync("put", "/restart/key", "kept");

        await server.StopAsync();
        await server.StartAgainAsync();

        Assert.Equal("kept", (await server.EtcdctlAsync("get", "/restart/key", "--print-value-only")).Trim());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Dispose_kills_etcd_and_deletes_its_data_and_certificate_files(bool tls)
    {
        var server = await EtcdServer.StartAsync(new EtcdServerOptions { Tls = tls });
        var pid = server.ProcessId!.Value;
        string[] files = server.Certificates is { } c ? [c.CaFile, c.ServerCertFile, c.ServerKeyFile] : [];
        Assert.True(IsRunning(pid));
        Assert.True(Directory.Exists(server.DataDirectory));
        Assert.All(files, f => Assert.True(File.Exists(f), f));

        await server.DisposeAsync();

        Assert.False(IsRunning(pid));
        Assert.Null(server.ProcessId);
        Assert.False(Directory.Exists(server.DataDirectory));
        Assert.All(files, f => Assert.False(File.Exists(f), f));
    }

    [Fact]
    public async Task Start_failure_reports_the_etcd_log()
    {
        var error = await Assert.ThrowsAnyAsync<InvalidOperationException>(
            () => EtcdServer.StartAsync(new EtcdServerOptions { ExtraArguments = ["--no-such-flag"] }));

        Assert.Contains("etcd log tail", error.Message);
        Assert.Contains("no-such-flag", error.Message);
    }

    private static readonly HttpClient Health = new(new SocketsHttpHandler { UseProxy = false });

    private static bool IsRunning(int pid) => Directory.Exists($"/proc/{pid}");

    private static HttpClient HttpClientTrusting(X509Certificate2 ca, X509Certificate2? clientCertificate)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    RevocationMode = X509RevocationMode.NoCheck,
                    CustomTrustStore = { ca },
                },
            },
        };

        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
        }

        return new HttpClient(handler);
    }
}
