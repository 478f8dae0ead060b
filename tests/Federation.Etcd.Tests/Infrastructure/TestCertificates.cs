using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Federation.Etcd.Tests.Infrastructure;

/// <summary>
/// A throwaway certificate authority with a server certificate for 127.0.0.1/localhost and client
/// certificates made on demand, written as PEM files into one directory.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly string _directory;
    private readonly DateTimeOffset _notBefore;
    private readonly DateTimeOffset _notAfter;
    private readonly List<X509Certificate2> _issued = [];
    private readonly Lock _gate = new();
    private int _clientCount;

    private TestCertificates(string directory, X509Certificate2 ca)
    {
        _directory = directory;
        CaCertificate = ca;
        _notBefore = ca.NotBefore.ToUniversalTime();
        _notAfter = ca.NotAfter.ToUniversalTime();
        CaFile = Path.Combine(directory, "ca.crt");
        ServerCertFile = Path.Combine(directory, "server.crt");
        ServerKeyFile = Path.Combine(directory, "server.key");
    }

    public string CaFile { get; }

    public string ServerCertFile { get; }

    public string ServerKeyFile { get; }

    /// <summary>The CA certificate with its private key; trust it to validate the server.</summary>
    public X509Certificate2 CaCertificate { get; }

    /// <summary>Creates a CA and a server certificate in <paramref name="directory"/> (created if missing).</summary>
    public static TestCertificates Create(string directory)
    {
        Directory.CreateDirectory(directory);
        var now = DateTimeOffset.UtcNow;

        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=federation-test-ca", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(
            new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var ca = caRequest.CreateSelfSigned(now.AddHours(-1), now.AddDays(2));

        var certificates = new TestCertificates(directory, ca);
        try
        {
            File.WriteAllText(certificates.CaFile, ca.ExportCertificatePem() + "\n");

            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");

            // clientAuth too: etcd's own gRPC gateway dials the server with the server certificate,
            // and with --client-cert-auth that dial is checked like any client.
            var server = certificates.Issue(
                new X500DistinguishedName("CN=etcd-test-server"), san.Build(), [ServerAuth, ClientAuth], certificates.ServerCertFile, certificates.ServerKeyFile);
            server.Dispose();
            return certificates;
        }
        catch
        {
            certificates.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Issues a client certificate (clientAuth EKU) whose CN is <paramref name="commonName"/>,
    /// which etcd takes as the user name when auth is enabled. The returned certificate carries
    /// its private key and can be given to SslStream/SocketsHttpHandler; it is disposed with this object.
    /// </summary>
    public (string CertFile, string KeyFile, X509Certificate2 Certificate) CreateClient(string commonName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(commonName);

        var index = Interlocked.Increment(ref _clientCount);
        var safeName = new string([.. commonName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_')]);
        var certFile = Path.Combine(_directory, $"client-{index}-{safeName}.crt");
        var keyFile = Path.Combine(_directory, $"client-{index}-{safeName}.key");

        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(commonName);
        var certificate = Issue(subject.Build(), null, [ClientAuth], certFile, keyFile);
        lock (_gate)
        {
            _issued.Add(certificate);
        }

        return (certFile, keyFile, certificate);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var certificate in _issued)
            {
                certificate.Dispose();
            }

            _issued.Clear();
        }

        CaCertificate.Dispose();
    }

    private X509Certificate2 Issue(
        X500DistinguishedName subject, X509Extension? san, Oid[] usages, string certFile, string keyFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([.. usages], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(CaCertificate, true, false));
        if (san is not null)
        {
            request.CertificateExtensions.Add(san);
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // a positive serial number
        using var issued = request.Create(CaCertificate, _notBefore, _notAfter, serial);

        var certPem = issued.ExportCertificatePem() + "\n";
        var keyPem = key.ExportPkcs8PrivateKeyPem() + "\n";
        File.WriteAllText(certFile, certPem);
        WriteOwnerOnly(keyFile, keyPem);

        // Loaded back from the PEM just written, so the object and the files cannot disagree.
        return X509Certificate2.CreateFromPem(certPem, keyPem);
    }

    private static void WriteOwnerOnly(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }
}
