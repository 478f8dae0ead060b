using System.Security.Cryptography.X509Certificates;

namespace Federation.Lab.ApiServer.Hosting;

/// <summary>Accepts a client certificate only if it chains to one of the client CAs (the <c>--client-ca-file</c>).</summary>
internal sealed class ClientCertificateValidator(X509Certificate2Collection trustedCas)
{
    private static readonly System.Security.Cryptography.Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    public bool IsValid(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trustedCas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuth);
        return chain.Build(certificate);
    }
}
