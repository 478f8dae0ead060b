namespace Federation.Kubernetes.Config;

/// <summary>The configuration of a process running in a pod: the service account's token, CA and namespace, and the service address from the environment.</summary>
public static class InClusterConfig
{
    /// <summary>Where Kubernetes mounts the service account.</summary>
    public const string DefaultRoot = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>
    /// Builds the in-cluster configuration from <paramref name="root"/> (token, ca.crt, namespace) and
    /// <c>KUBERNETES_SERVICE_HOST</c>/<c>KUBERNETES_SERVICE_PORT</c> from <paramref name="environment"/>.
    /// </summary>
    public static KubernetesClientConfiguration Load(string? root = null, Func<string, string?>? environment = null)
    {
        root ??= DefaultRoot;
        environment ??= Environment.GetEnvironmentVariable;
        var host = environment("KUBERNETES_SERVICE_HOST");
        var port = environment("KUBERNETES_SERVICE_PORT");
        if (string.IsNullOrEmpty(host) || string.IsNullOrEmpty(port))
        {
            throw new KubeconfigException("in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set (is this process running in a pod?)");
        }

        if (!int.TryParse(port, out var portNumber) || portNumber is < 1 or > 65535)
        {
            throw new KubeconfigException($"in-cluster configuration: KUBERNETES_SERVICE_PORT '{port}' is not a port number");
        }

        var tokenFile = Path.Combine(root, "token");
        if (!File.Exists(tokenFile))
        {
            throw new KubeconfigException($"in-cluster configuration: service account token {tokenFile} is missing");
        }

        var caFile = Path.Combine(root, "ca.crt");
        byte[] ca;
        try
        {
            ca = File.ReadAllBytes(caFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new KubeconfigException($"in-cluster configuration: CA certificate {caFile} cannot be read: {ex.Message}", ex);
        }

        var namespaceFile = Path.Combine(root, "namespace");
        var ns = File.Exists(namespaceFile) ? File.ReadAllText(namespaceFile).Trim() : string.Empty;

        // An IPv6 service address needs brackets in a URL.
        var hostPart = host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host;
        return new KubernetesClientConfiguration
        {
            Server = new Uri($"https://{hostPart}:{portNumber}"),
            Namespace = ns.Length == 0 ? "default" : ns,
            CertificateAuthorityData = ca,
            TokenFile = tokenFile,
            Source = $"in-cluster ({root})",
        };
    }
}
