using System.Net;
using Federation.Lab.ApiServer.Pki;

namespace Federation.Lab.Tests.Infrastructure;

/// <summary>The lab certificates written into a directory: CA, serving certificate, an admin client.</summary>
internal sealed class LabPkiFiles : IDisposable
{
    private LabPkiFiles(string directory, LabCertificateAuthority ca, PemCertificate admin)
    {
        Directory = directory;
        Ca = ca;
        Admin = admin;
    }

    public string Directory { get; }

    public LabCertificateAuthority Ca { get; }

    public PemCertificate Admin { get; }

    public string CaFile => Path.Combine(Directory, "ca.crt");

    public string ServerCertFile => Path.Combine(Directory, "apiserver.crt");

    public string ServerKeyFile => Path.Combine(Directory, "apiserver.key");

    public static LabPkiFiles Create(string directory)
    {
        System.IO.Directory.CreateDirectory(directory);
        var ca = LabCertificateAuthority.Create();
        var files = new LabPkiFiles(directory, ca, ca.IssueClient("lab-admin", ["system:masters"]));
        File.WriteAllText(files.CaFile, ca.CertificatePem);
        ca.IssueServer("lab-apiserver", [IPAddress.Loopback], ["localhost"]).Write(files.ServerCertFile, files.ServerKeyFile);
        return files;
    }

    public void Dispose() => Ca.Dispose();
}
