namespace Federation.Kubernetes.Config;

/// <summary>A kubeconfig: named clusters, users and contexts, and the context used by default.</summary>
public sealed record Kubeconfig
{
    public IReadOnlyList<KubeconfigCluster> Clusters { get; init; } = [];

    public IReadOnlyList<KubeconfigUser> Users { get; init; } = [];

    public IReadOnlyList<KubeconfigContext> Contexts { get; init; } = [];

    public string? CurrentContext { get; init; }

    /// <summary>The files this was read from, in merge order (empty when built in code).</summary>
    public IReadOnlyList<string> SourceFiles { get; init; } = [];
}

/// <summary>How to reach one API server and how to trust it.</summary>
public sealed record KubeconfigCluster
{
    public required string Name { get; init; }

    /// <summary>The API server URL, e.g. <c>https://127.0.0.1:6443</c>.</summary>
    public string? Server { get; init; }

    /// <summary>A CA bundle file (absolute once loaded: relative paths are resolved against the kubeconfig's folder).</summary>
    public string? CertificateAuthority { get; init; }

    /// <summary>The CA bundle itself (PEM bytes; base64 in the file).</summary>
    public byte[]? CertificateAuthorityData { get; init; }

    public bool InsecureSkipTlsVerify { get; init; }

    /// <summary>The file this entry came from, for error messages.</summary>
    public string? SourceFile { get; init; }
}

/// <summary>Credentials: a client certificate and key, or a bearer token (inline or in a file).</summary>
public sealed record KubeconfigUser
{
    public required string Name { get; init; }

    public string? ClientCertificate { get; init; }

    public byte[]? ClientCertificateData { get; init; }

    public string? ClientKey { get; init; }

    public byte[]? ClientKeyData { get; init; }

    public string? Token { get; init; }

    public string? TokenFile { get; init; }

    public string? SourceFile { get; init; }
}

/// <summary>A cluster, a user and a default namespace, under one name.</summary>
public sealed record KubeconfigContext
{
    public required string Name { get; init; }

    public string? Cluster { get; init; }

    public string? User { get; init; }

    public string? Namespace { get; init; }

    public string? SourceFile { get; init; }
}
