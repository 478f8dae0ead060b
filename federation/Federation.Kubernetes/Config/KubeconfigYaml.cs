using YamlDotNet.Serialization;

namespace Federation.Kubernetes.Config;

// The kubeconfig file format as written by kubectl (the field names are the file's, hyphens included).
internal sealed class KubeconfigYaml
{
    [YamlMember(Alias = "apiVersion", Order = 0)]
    public string? ApiVersion { get; set; }

    [YamlMember(Alias = "kind", Order = 1)]
    public string? Kind { get; set; }

    [YamlMember(Alias = "clusters", Order = 2)]
    public List<NamedClusterYaml>? Clusters { get; set; }

    [YamlMember(Alias = "users", Order = 3)]
    public List<NamedUserYaml>? Users { get; set; }

    [YamlMember(Alias = "contexts", Order = 4)]
    public List<NamedContextYaml>? Contexts { get; set; }

    [YamlMember(Alias = "current-context", Order = 5)]
    public string? CurrentContext { get; set; }
}

internal sealed class NamedClusterYaml
{
    [YamlMember(Alias = "name", Order = 0)]
    public string? Name { get; set; }

    [YamlMember(Alias = "cluster", Order = 1)]
    public ClusterYaml? Cluster { get; set; }
}

internal sealed class ClusterYaml
{
    [YamlMember(Alias = "server", Order = 0)]
    public string? Server { get; set; }

    [YamlMember(Alias = "certificate-authority", Order = 1)]
    public string? CertificateAuthority { get; set; }

    [YamlMember(Alias = "certificate-authority-data", Order = 2)]
    public string? CertificateAuthorityData { get; set; }

    [YamlMember(Alias = "insecure-skip-tls-verify", Order = 3)]
    public bool? InsecureSkipTlsVerify { get; set; }
}

internal sealed class NamedUserYaml
{
    [YamlMember(Alias = "name", Order = 0)]
    public string? Name { get; set; }

    [YamlMember(Alias = "user", Order = 1)]
    public UserYaml? User { get; set; }
}

internal sealed class UserYaml
{
    [YamlMember(Alias = "client-certificate", Order = 0)]
    public string? ClientCertificate { get; set; }

    [YamlMember(Alias = "client-certificate-data", Order = 1)]
    public string? ClientCertificateData { get; set; }

    [YamlMember(Alias = "client-key", Order = 2)]
    public string? ClientKey { get; set; }

    [YamlMember(Alias = "client-key-data", Order = 3)]
    public string? ClientKeyData { get; set; }

    [YamlMember(Alias = "token", Order = 4)]
    public string? Token { get; set; }

    [YamlMember(Alias = "tokenFile", Order = 5)]
    public string? TokenFile { get; set; }
}

internal sealed class NamedContextYaml
{
    [YamlMember(Alias = "name", Order = 0)]
    public string? Name { get; set; }

    [YamlMember(Alias = "context", Order = 1)]
    public ContextYaml? Context { get; set; }
}

internal sealed class ContextYaml
{
    [YamlMember(Alias = "cluster", Order = 0)]
    public string? Cluster { get; set; }

    [YamlMember(Alias = "user", Order = 1)]
    public string? User { get; set; }

    [YamlMember(Alias = "namespace", Order = 2)]
    public string? Namespace { get; set; }
}
