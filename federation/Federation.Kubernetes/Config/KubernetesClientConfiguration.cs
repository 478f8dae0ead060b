namespace Federation.Kubernetes.Config;

/// <summary>Everything the client needs to reach one API server: address, trust, credentials and retry bounds.</summary>
public sealed record KubernetesClientConfiguration
{
    /// <summary>The API server, e.g. <c>https://127.0.0.1:6443</c>.</summary>
    public required Uri Server { get; init; }

    /// <summary>The namespace of the selected context (<c>default</c> when none is set).</summary>
    public string Namespace { get; init; } = "default";

    /// <summary>The kubeconfig context this came from (null for in-cluster or hand-made configurations).</summary>
    public string? ContextName { get; init; }

    /// <summary>CA certificates (PEM) to trust for the server instead of the system store.</summary>
    public byte[]? CertificateAuthorityData { get; init; }

    /// <summary>Accept any server certificate. For throwaway labs only.</summary>
    public bool SkipTlsVerify { get; init; }

    /// <summary>Client certificate (PEM) for mutual TLS; needs <see cref="ClientKeyData"/>.</summary>
    public byte[]? ClientCertificateData { get; init; }

    /// <summary>The client certificate's private key (PEM).</summary>
    public byte[]? ClientKeyData { get; init; }

    /// <summary>A bearer token.</summary>
    public string? Token { get; init; }

    /// <summary>A file holding a bearer token, re-read periodically (service-account tokens rotate).</summary>
    public string? TokenFile { get; init; }

    /// <summary>Time limit of one request (not of a watch, which runs until the server ends it).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries of throttled (429), failed (5xx) and, for idempotent verbs, unconnected requests.</summary>
    public KubernetesRetryOptions Retry { get; init; } = new();

    /// <summary>Where this came from (files, in-cluster root), for messages.</summary>
    public string? Source { get; init; }

    /// <summary>
    /// Loads a kubeconfig the way kubectl does: <paramref name="kubeconfigPath"/> when given, else the files
    /// in <c>KUBECONFIG</c> (merged), else <c>~/.kube/config</c>; then selects <paramref name="context"/> or the current context.
    /// </summary>
    public static KubernetesClientConfiguration FromKubeconfig(string? context = null, string? kubeconfigPath = null)
    {
        var paths = kubeconfigPath is not null ? [kubeconfigPath] : KubeconfigLoader.DefaultPaths(Environment.GetEnvironmentVariable);
        return KubeconfigLoader.BuildConfiguration(KubeconfigLoader.LoadMerged(paths), context);
    }

    /// <summary>The configuration of a process running in a pod (service-account token, CA and namespace).</summary>
    public static KubernetesClientConfiguration InCluster() => InClusterConfig.Load();
}

/// <summary>Bounds of the client's retries.</summary>
public sealed record KubernetesRetryOptions
{
    /// <summary>Retries after the first attempt; 0 disables retrying.</summary>
    public int MaxRetryAttempts { get; init; } = 5;

    /// <summary>The first backoff delay (exponential with jitter after that) when the server gives no Retry-After.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>No single wait is longer than this, whatever Retry-After says.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);
}
