using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Federation.Kubernetes.Config;

namespace Federation.Kubernetes.Client;

/// <summary>Builds the <see cref="SocketsHttpHandler"/> of a client: trusted CA, client certificate, connection lifetime.</summary>
internal static class KubernetesHttpHandler
{
    public static SocketsHttpHandler Create(KubernetesClientConfiguration configuration)
    {
        var handler = new SocketsHttpHandler
        {
            // Re-resolve and re-balance now and then; a watch keeps its connection regardless.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = System.Net.DecompressionMethods.All,
        };

        if (configuration.Server.Scheme != Uri.UriSchemeHttps)
        {
            return handler;
        }

        var ssl = new SslClientAuthenticationOptions();
        if (configuration.ClientCertificateData is { } certPem && configuration.ClientKeyData is { } keyPem)
        {
            ssl.ClientCertificates = [LoadClientCertificate(certPem, keyPem, configuration)];
        }

        if (configuration.SkipTlsVerify)
        {
            ssl.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        else if (configuration.CertificateAuthorityData is { } caData)
        {
            // Trust exactly the configured CA (as kubectl does), not the system store.
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.AddRange(LoadCertificates(caData, configuration));
            ssl.CertificateChainPolicy = policy;
        }

        handler.SslOptions = ssl;
        return handler;
    }

    internal static X509Certificate2Collection LoadCertificates(byte[] data, KubernetesClientConfiguration configuration)
    {
        var collection = new X509Certificate2Collection();
        try
        {
            var text = Encoding.ASCII.GetString(data);
            if (text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
            {
                collection.ImportFromPem(text);
            }
            else
            {
                collection.Add(X509CertificateLoader.LoadCertificate(data));
            }
        }
        catch (System.Security.Cryptography.CryptographicException ex)
        {
            throw new KubeconfigException($"{Describe(configuration)}: the certificate authority data is not a PEM or DER certificate: {ex.Message}", ex);
        }

        if (collection.Count == 0)
        {
            throw new KubeconfigException($"{Describe(configuration)}: the certificate authority data holds no certificate");
        }

        return collection;
    }

    private static X509Certificate2 LoadClientCertificate(byte[] certPem, byte[] keyPem, KubernetesClientConfiguration configuration)
    {
        try
        {
            return X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(certPem), Encoding.ASCII.GetString(keyPem));
        }
        catch (System.Security.Cryptography.CryptographicException ex)
        {
            throw new KubeconfigException($"{Describe(configuration)}: the client certificate or key is not usable PEM: {ex.Message}", ex);
        }
    }

    private static string Describe(KubernetesClientConfiguration configuration)
        => configuration.ContextName is { } context ? $"{configuration.Source}, context '{context}'" : configuration.Source ?? configuration.Server.ToString();
}
