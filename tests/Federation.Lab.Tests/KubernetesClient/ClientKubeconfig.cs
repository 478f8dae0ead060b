using System.Text;
using Federation.Kubernetes.Config;
using Federation.Lab.ApiServer.Pki;
using KubeClient = Federation.Kubernetes.Client.KubernetesClient;
using KubeconfigDocument = Federation.Kubernetes.Config.Kubeconfig;

namespace Federation.Lab.Tests.KubernetesClient;

/// <summary>
/// Kubeconfig files as users get them: written by <see cref="KubeconfigWriter"/> (CA and client certificate inline)
/// and read back by the client's own loader, so every test goes through the same path as a real user.
/// </summary>
internal static class ClientKubeconfig
{
    public const string User = "lab-admin";

    /// <summary>Writes one cluster and one context per server (all trusting <paramref name="caPem"/> and presenting <paramref name="user"/>); the first is current.</summary>
    public static void Write(string path, string caPem, PemCertificate user, params (string Context, Uri Server)[] servers)
    {
        var kubeconfig = new KubeconfigDocument
        {
            Clusters = [.. servers.Select(s => new KubeconfigCluster
            {
                Name = s.Context,
                Server = s.Server.GetLeftPart(UriPartial.Authority),
                CertificateAuthorityData = Encoding.UTF8.GetBytes(caPem),
            })],
            Users =
            [
                new KubeconfigUser
                {
                    Name = User,
                    ClientCertificateData = Encoding.UTF8.GetBytes(user.CertificatePem),
                    ClientKeyData = Encoding.UTF8.GetBytes(user.PrivateKeyPem),
                },
            ],
            Contexts = [.. servers.Select(s => new KubeconfigContext { Name = s.Context, Cluster = s.Context, User = User, Namespace = "default" })],
            CurrentContext = servers[0].Context,
        };
        KubeconfigWriter.WriteFile(path, kubeconfig);
    }

    /// <summary>A client for <paramref name="context"/> of the kubeconfig at <paramref name="path"/>, loaded the way users load it.</summary>
    public static KubeClient Connect(string path, string context)
        => KubeClient.Create(KubernetesClientConfiguration.FromKubeconfig(context, path));
}
