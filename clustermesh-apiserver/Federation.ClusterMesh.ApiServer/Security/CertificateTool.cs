using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Federation.Etcd.ClusterMesh;

namespace Federation.ClusterMesh.ApiServer.Security;

/// <summary>What <see cref="CertificateTool.Generate"/> makes.</summary>
internal sealed record CertificateToolRequest
{
    /// <summary>Directory the PEM files go to (created if missing).</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>The cluster whose etcd these certificates serve.</summary>
    public required string Cluster { get; init; }

    /// <summary>Clusters that will read this cluster's etcd (one <c>remote-&lt;peer&gt;</c> certificate each).</summary>
    public IReadOnlyList<string> Peers { get; init; } = [];

    /// <summary>An existing CA to sign with (both or neither); without them a new CA is created.</summary>
    public string? CaCertFile { get; init; }

    public string? CaKeyFile { get; init; }

    /// <summary>Validity of the issued (non-CA) certificates.</summary>
    public TimeSpan Validity { get; init; } = TimeSpan.FromDays(365);
}

/// <summary>One file written by the tool and what it is for.</summary>
internal sealed record WrittenFile(string Path, string Purpose);

/// <summary>
/// Creates the PKI of one cluster's etcd: a CA (or reuses one), the etcd server certificate, and one client
/// certificate per etcd user of <see cref="EtcdAccessPlan"/> (the CN is the user).
/// </summary>
internal static class CertificateTool
{
    public const string CaCertName = "ca.crt";
    public const string CaKeyName = "ca.key";
    public const string ServerName = "etcd-server";

    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    /// <summary>Writes every file; throws <see cref="ArgumentException"/> for bad input, naming the flag.</summary>
    public static IReadOnlyList<WrittenFile> Generate(CertificateToolRequest request, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
        var now = (timeProvider ?? TimeProvider.System).GetUtcNow();
        var dir = request.OutputDirectory;
        Directory.CreateDirectory(dir);
        var written = new List<WrittenFile>();

        using var ca = request.CaCertFile is { } caCertFile
            ? LoadCa(caCertFile, request.CaKeyFile!)
            : CreateCa(request.Cluster, now, dir, written);
        if (request.CaCertFile is not null)
        {
            // A copy next to the other files, so the directory is all etcd and its clients need; the CA key stays where it is.
            var caCopy = Path.Combine(dir, CaCertName);
            if (!SamePath(caCopy, request.CaCertFile))
            {
                File.WriteAllText(caCopy, ca.ExportCertificatePem() + "\n");
            }

            written.Add(new WrittenFile(caCopy, $"CA certificate (reused from {request.CaCertFile}): etcd --trusted-ca-file, every client's CA"));
        }

        var notAfter = now + request.Validity < ca.NotAfter.ToUniversalTime() ? now + request.Validity : new DateTimeOffset(ca.NotAfter.ToUniversalTime());
        var notBefore = now.AddMinutes(-5);

        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        // clientAuth too: etcd's gRPC gateway dials the server with this certificate, checked like any client.
        Issue(ca, ServerName, san.Build(), [ServerAuth, ClientAuth], notBefore, notAfter, dir, written,
            "etcd server (--cert-file/--key-file), SAN 127.0.0.1, localhost");
        Issue(ca, EtcdAccessPlan.AdminUser(request.Cluster), null, [ClientAuth], notBefore, notAfter, dir, written,
            "clustermesh-apiserver of this cluster (--etcd-cert-file/--etcd-key-file), etcd role root");
        Issue(ca, EtcdAccessPlan.LocalUser(request.Cluster), null, [ClientAuth], notBefore, notAfter, dir, written,
            "node agents of this cluster, etcd role local (read-only)");
        foreach (var peer in request.Peers.Distinct(StringComparer.Ordinal))
        {
            Issue(ca, EtcdAccessPlan.RemoteUser(peer), null, [ClientAuth], notBefore, notAfter, dir, written,
                $"give to cluster {peer} (with {CaCertName}) so its kvstoremesh can read this cluster's etcd, etcd role remote (read-only)");
        }

        return written;
    }

    private static void Validate(CertificateToolRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.OutputDirectory))
        {
            throw new ArgumentException("--out: a directory is required");
        }

        if (ClusterIdentity.ValidateClusterName(request.Cluster) is { Ok: false } bad)
        {
            throw new ArgumentException($"--cluster: {bad.Error}");
        }

        foreach (var peer in request.Peers)
        {
            if (ClusterIdentity.ValidateClusterName(peer) is { Ok: false } badPeer)
            {
                throw new ArgumentException($"--peers: '{peer}': {badPeer.Error}");
            }

            if (peer == request.Cluster)
            {
                throw new ArgumentException($"--peers: '{peer}' is this cluster");
            }
        }

        if ((request.CaCertFile is null) != (request.CaKeyFile is null))
        {
            throw new ArgumentException("--ca-cert and --ca-key go together");
        }

        if (request.CaCertFile is null && File.Exists(Path.Combine(request.OutputDirectory, CaKeyName)))
        {
            throw new ArgumentException(
                $"--out: {request.OutputDirectory} already holds a CA key; reuse it with --ca-cert {Path.Combine(request.OutputDirectory, CaCertName)} "
                + $"--ca-key {Path.Combine(request.OutputDirectory, CaKeyName)}, or choose another directory (a CA key is never overwritten)");
        }

        if (request.Validity <= TimeSpan.Zero)
        {
            throw new ArgumentException("validity must be positive");
        }
    }

    private static X509Certificate2 LoadCa(string certFile, string keyFile)
    {
        X509Certificate2 ca;
        try
        {
            ca = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--ca-cert/--ca-key: cannot load {certFile} with {keyFile}: {ex.Message}", ex);
        }

        if (ca.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
        {
            ca.Dispose();
            throw new ArgumentException($"--ca-cert: {certFile} is not a CA certificate (no basicConstraints CA:TRUE)");
        }

        return ca;
    }

    private static X509Certificate2 CreateCa(string cluster, DateTimeOffset now, string dir, List<WrittenFile> written)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName($"clustermesh-{cluster}-etcd-ca");
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var ca = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));

        var certPath = Path.Combine(dir, CaCertName);
        var keyPath = Path.Combine(dir, CaKeyName);
        WriteKey(keyPath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certPath, ca.ExportCertificatePem() + "\n");
        written.Add(new WrittenFile(certPath, "CA certificate: etcd --trusted-ca-file, every client's CA"));
        written.Add(new WrittenFile(keyPath, "CA private key (0600): keep it offline; needed only to issue more certificates (--ca-key)"));
        return ca;
    }

    private static void Issue(
        X509Certificate2 ca, string commonName, X509Extension? san, Oid[] usages, DateTimeOffset notBefore, DateTimeOffset notAfter,
        string dir, List<WrittenFile> written, string purpose)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(commonName);
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([.. usages], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (san is not null)
        {
            request.CertificateExtensions.Add(san);
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // a positive serial number
        using var issued = request.Create(ca, notBefore, notAfter, serial);

        var certPath = Path.Combine(dir, commonName + ".crt");
        var keyPath = Path.Combine(dir, commonName + ".key");
        WriteKey(keyPath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certPath, issued.ExportCertificatePem() + "\n");
        written.Add(new WrittenFile(certPath, $"CN={commonName}: {purpose}"));
        written.Add(new WrittenFile(keyPath, $"private key of {commonName} (0600)"));
    }

    /// <summary>Writes a private key readable by its owner only; an existing file is replaced, never widened.</summary>
    private static void WriteKey(string path, string pem)
    {
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(pem + "\n");
    }

    private static bool SamePath(string a, string b)
        => string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);
}
