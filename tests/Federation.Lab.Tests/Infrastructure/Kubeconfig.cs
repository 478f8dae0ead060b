using System.Text;
using Federation.Lab.ApiServer.Pki;

namespace Federation.Lab.Tests.Infrastructure;

/// <summary>Writes a kubeconfig for one cluster and one client-certificate user, with inline base64 data.</summary>
internal static class Kubeconfig
{
    public static void Write(string path, Uri server, string caPem, PemCertificate user, string clusterName = "lab")
    {
        static string B64(string pem) => Convert.ToBase64String(Encoding.UTF8.GetBytes(pem));
        var text = $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: {clusterName}
              cluster:
                server: {server.GetLeftPart(UriPartial.Authority)}
                certificate-authority-data: {B64(caPem)}
            users:
            - name: admin
              user:
                client-certificate-data: {B64(user.CertificatePem)}
                client-key-data: {B64(user.PrivateKeyPem)}
            contexts:
            - name: {clusterName}
              context:
                cluster: {clusterName}
                user: admin
                namespace: default
            current-context: {clusterName}

            """;
        File.WriteAllText(path, text);
    }
}
