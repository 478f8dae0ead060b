using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Models;
using Federation.Kubernetes.Tests.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Federation.Kubernetes.Tests;

[Trait("Needs", "loopback")]
public sealed class KubernetesClientTlsTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestCertificates _certificates;

    public KubernetesClientTlsTests()
    {
        _certificates = TestCertificates.Create(Path.Combine(_dir.Path, "pki"));
    }

    public void Dispose()
    {
        _certificates.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task Kubeconfig_CA_file_and_client_certificate_authenticate_both_sides()
    {
        string? presentedClient = null;
        await using var server = await StartTlsServerAsync(context =>
        {
            presentedClient = context.Connection.ClientCertificate?.GetNameInfo(X509NameType.SimpleName, false);
            return ScriptedApiServer.WriteJsonAsync(context, 200, Json.Service("demo", "web", "1"));
        });
        var (certFile, keyFile, _) = _certificates.CreateClient("lab-admin");
        var kubeconfig = _dir.Write("kubeconfig", $"""
            clusters:
            - name: lab
              cluster:
                server: https://127.0.0.1:{server.BaseAddress.Port}
                certificate-authority: {Path.GetRelativePath(_dir.Path, _certificates.CaFile)}
            users:
            - name: admin
              user:
                client-certificate: {certFile}
                client-key: {keyFile}
            contexts:
            - name: lab
              context:
                cluster: lab
                user: admin
            current-context: lab
            """);
        using var client = KubernetesClient.Create(KubernetesClientConfiguration.FromKubeconfig(kubeconfigPath: kubeconfig));

        var service = await client.GetAsync<Service>("demo", "web");

        Assert.Equal("web", service.Metadata.Name);
        Assert.Equal("lab-admin", presentedClient);
    }

    [Fact]
    public async Task A_server_certificate_from_another_CA_is_refused_unless_verification_is_skipped()
    {
        await using var server = await StartTlsServerAsync(context => ScriptedApiServer.WriteJsonAsync(context, 200, Json.Service("demo", "web", "1")));
        using var otherCa = TestCertificates.Create(Path.Combine(_dir.Path, "other"));
        var serverUri = new Uri($"https://127.0.0.1:{server.BaseAddress.Port}");
        var noRetry = new KubernetesRetryOptions { MaxRetryAttempts = 0 };
        using var strict = KubernetesClient.Create(new KubernetesClientConfiguration
        {
            Server = serverUri,
            CertificateAuthorityData = File.ReadAllBytes(otherCa.CaFile),
            Retry = noRetry,
        });
        using var lax = KubernetesClient.Create(new KubernetesClientConfiguration { Server = serverUri, SkipTlsVerify = true, Retry = noRetry });

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => strict.GetAsync<Service>("demo", "web"));
        var service = await lax.GetAsync<Service>("demo", "web");

        Assert.IsType<AuthenticationException>(refused.InnerException);
        Assert.Equal("web", service.Metadata.Name);
    }

    private Task<ScriptedApiServer> StartTlsServerAsync(Func<Microsoft.AspNetCore.Http.HttpContext, Task> handler)
    {
        var certificate = X509Certificate2.CreateFromPemFile(_certificates.ServerCertFile, _certificates.ServerKeyFile);
        return ScriptedApiServer.StartAsync((_, context) => handler(context), builder => builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = certificate,
                ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                ClientCertificateValidation = (_, _, _) => true,
            }))));
    }
}
