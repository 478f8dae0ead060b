using Federation.Lab.Tests.Infrastructure;

namespace Federation.Lab.Tests.Kubectl;

/// <summary>A kubeconfig for the shared lab API server in a folder of its own, and the real kubectl using it.</summary>
public abstract class KubectlTestBase : IDisposable
{
    protected KubectlTestBase(LabApiServerFixture lab, string stem)
    {
        Lab = lab;
        WorkDirectory = Path.Combine(lab.Directory, stem + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(WorkDirectory);
        var kubeconfig = Path.Combine(WorkDirectory, "kubeconfig");
        Kubeconfig.Write(kubeconfig, lab.Host.BaseUri, lab.Pki.Ca.CertificatePem, lab.Pki.Admin);
        Kubectl = new KubectlRunner(kubeconfig, Path.Combine(WorkDirectory, "cache"));
    }

    protected LabApiServerFixture Lab { get; }

    protected string WorkDirectory { get; }

    internal KubectlRunner Kubectl { get; }

    public void Dispose()
    {
        Directory.Delete(WorkDirectory, recursive: true);
        GC.SuppressFinalize(this);
    }
}
