using YamlDotNet.Serialization;

namespace Federation.Kubernetes.Config;

/// <summary>Writes kubeconfig files (YAML, certificate and key data inline as base64) that kubectl and <see cref="KubeconfigLoader"/> read.</summary>
public static class KubeconfigWriter
{
    /// <summary>The kubeconfig as YAML text.</summary>
    public static string Write(Kubeconfig kubeconfig)
    {
        ArgumentNullException.ThrowIfNull(kubeconfig);
        var document = new KubeconfigYaml
        {
            ApiVersion = "v1",
            Kind = "Config",
            Clusters = [.. kubeconfig.Clusters.Select(c => new NamedClusterYaml
            {
                Name = c.Name,
                Cluster = new ClusterYaml
                {
                    Server = c.Server,
                    CertificateAuthority = c.CertificateAuthority,
                    CertificateAuthorityData = ToBase64(c.CertificateAuthorityData),
                    InsecureSkipTlsVerify = c.InsecureSkipTlsVerify ? true : null,
                },
            })],
            Users = [.. kubeconfig.Users.Select(u => new NamedUserYaml
            {
                Name = u.Name,
                User = new UserYaml
                {
                    ClientCertificate = u.ClientCertificate,
                    ClientCertificateData = ToBase64(u.ClientCertificateData),
                    ClientKey = u.ClientKey,
                    ClientKeyData = ToBase64(u.ClientKeyData),
                    Token = u.Token,
                    TokenFile = u.TokenFile,
                },
            })],
            Contexts = [.. kubeconfig.Contexts.Select(c => new NamedContextYaml
            {
                Name = c.Name,
                Context = new ContextYaml { Cluster = c.Cluster, User = c.User, Namespace = c.Namespace },
            })],
            CurrentContext = kubeconfig.CurrentContext,
        };

        return new SerializerBuilder()
            .ConfigureDefaultValuesHandling(DefaultValuesHandling.OmitNull)
            .Build()
            .Serialize(document);
    }

    /// <summary>Writes the kubeconfig to <paramref name="path"/> (readable by the owner only: it holds keys), replacing any file there.</summary>
    public static void WriteFile(string path, Kubeconfig kubeconfig)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var text = Write(kubeconfig);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
        }

        File.Move(temporary, path, overwrite: true);
    }

    private static string? ToBase64(byte[]? data) => data is null ? null : Convert.ToBase64String(data);
}
