using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Federation.Lab.ApiServer.Pki;

/// <summary>A certificate and its private key as PEM text.</summary>
public sealed record PemCertificate(string CertificatePem, string PrivateKeyPem)
{
    /// <summary>Writes the certificate and the key (owner-only permissions) to the given files.</summary>
    public void Write(string certificateFile, string privateKeyFile)
    {
        File.WriteAllText(certificateFile, CertificatePem);
        LabCertificateAuthority.WriteOwnerOnly(privateKeyFile, PrivateKeyPem);
    }

    /// <summary>The certificate with its private key, for TLS clients and servers.</summary>
    public X509Certificate2 ToCertificate() => X509Certificate2.CreateFromPem(CertificatePem, PrivateKeyPem);
}

/// <summary>
/// The lab's certificate authority (ECDSA P-256): it signs the API server's serving certificate (IP SAN
/// 127.0.0.1) and client certificates whose CN is the user and whose O values are its groups, the way
/// Kubernetes reads client certificates.
/// </summary>
public sealed class LabCertificateAuthority : IDisposable
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly X509Certificate2 _ca;
    private readonly TimeProvider _time;

    private LabCertificateAuthority(X509Certificate2 ca, TimeProvider time)
    {
        _ca = ca;
        _time = time;
    }

    /// <summary>The CA certificate as PEM (what clients and servers trust).</summary>
    public string CertificatePem => _ca.ExportCertificatePem() + "\n";

    public X509Certificate2 Certificate => _ca;

    /// <summary>Creates a new self-signed CA valid for <paramref name="validity"/> (default one year).</summary>
    public static LabCertificateAuthority Create(string commonName = "federation-lab-ca", TimeSpan? validity = null, TimeProvider? timeProvider = null)
    {
        var time = timeProvider ?? TimeProvider.System;
        var now = time.GetUtcNow();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={commonName}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var created = request.CreateSelfSigned(now.AddMinutes(-5), now + (validity ?? TimeSpan.FromDays(365)));
        return new LabCertificateAuthority(X509Certificate2.CreateFromPem(created.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem()), time);
    }

    /// <summary>Loads a CA written by <see cref="Write"/>.</summary>
    public static LabCertificateAuthority Load(string certificateFile, string privateKeyFile, TimeProvider? timeProvider = null)
        => new(X509Certificate2.CreateFromPemFile(certificateFile, privateKeyFile), timeProvider ?? TimeProvider.System);

    /// <summary>Loads a CA from its PEM certificate and PKCS#8 key (e.g. as kept in a Secret).</summary>
    public static LabCertificateAuthority FromPem(string certificatePem, string privateKeyPem, TimeProvider? timeProvider = null)
        => new(X509Certificate2.CreateFromPem(certificatePem, privateKeyPem), timeProvider ?? TimeProvider.System);

    /// <summary>The CA's private key as PKCS#8 PEM.</summary>
    public string PrivateKeyPem
    {
        get
        {
            using var key = _ca.GetECDsaPrivateKey() ?? throw new InvalidOperationException("The CA has no private key.");
            return key.ExportPkcs8PrivateKeyPem() + "\n";
        }
    }

    /// <summary>Writes the CA certificate and key as PEM files.</summary>
    public void Write(string certificateFile, string privateKeyFile)
        => new PemCertificate(CertificatePem, PrivateKeyPem).Write(certificateFile, privateKeyFile);

    /// <summary>A serving certificate for the given addresses and DNS names (at least 127.0.0.1 for the lab).</summary>
    public PemCertificate IssueServer(string commonName, IEnumerable<IPAddress> addresses, IEnumerable<string>? dnsNames = null, TimeSpan? validity = null)
    {
        var san = new SubjectAlternativeNameBuilder();
        foreach (var address in addresses)
        {
            san.AddIpAddress(address);
        }

        foreach (var name in dnsNames ?? [])
        {
            san.AddDnsName(name);
        }

        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(commonName);
        return Issue(subject.Build(), san.Build(), ServerAuth, validity);
    }

    /// <summary>A client certificate: CN = user, one O per group (e.g. <c>system:masters</c>).</summary>
    public PemCertificate IssueClient(string user, IEnumerable<string>? groups = null, TimeSpan? validity = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(user);
        var subject = new X500DistinguishedNameBuilder();
        foreach (var group in groups ?? [])
        {
            subject.AddOrganizationName(group);
        }

        subject.AddCommonName(user);
        return Issue(subject.Build(), null, ClientAuth, validity);
    }

    public void Dispose() => _ca.Dispose();

    internal static void WriteOwnerOnly(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }

    private PemCertificate Issue(X500DistinguishedName subject, X509Extension? san, Oid usage, TimeSpan? validity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_ca, true, false));
        if (san is not null)
        {
            request.CertificateExtensions.Add(san);
        }

        var now = _time.GetUtcNow();
        var notAfter = now + (validity ?? TimeSpan.FromDays(365));
        if (notAfter > _ca.NotAfter)
        {
            notAfter = _ca.NotAfter;
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(_ca, now.AddMinutes(-5), notAfter, serial);
        return new PemCertificate(issued.ExportCertificatePem() + "\n", key.ExportPkcs8PrivateKeyPem() + "\n");
    }
}
