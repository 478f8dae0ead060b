using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;

namespace Federation.Cli.Mesh;

/// <summary>Kubernetes clients per kubeconfig context, as kubectl resolves them (<c>--kubeconfig</c>, else <c>$KUBECONFIG</c>, else ~/.kube/config).</summary>
public sealed class KubeContexts : IDisposable
{
    private readonly Kubeconfig _kubeconfig;
    private readonly Dictionary<string, KubernetesClient> _clients = new(StringComparer.Ordinal);

    private KubeContexts(Kubeconfig kubeconfig) => _kubeconfig = kubeconfig;

    /// <summary>The files the kubeconfig was read from.</summary>
    public IReadOnlyList<string> SourceFiles => _kubeconfig.SourceFiles;

    public static KubeContexts Load(string? kubeconfigPath)
    {
        var paths = kubeconfigPath is { Length: > 0 }
            ? [kubeconfigPath]
            : KubeconfigLoader.DefaultPaths(Environment.GetEnvironmentVariable);
        var existing = paths.Where(File.Exists).ToList();
        if (existing.Count == 0)
        {
            throw new CliException(
                $"no kubeconfig found (looked at {string.Join(", ", paths)})",
                "pass --kubeconfig FILE or set KUBECONFIG; for the lab: export KUBECONFIG=$(clustermesh lab kubeconfig)");
        }

        try
        {
            return new KubeContexts(KubeconfigLoader.LoadMerged(existing));
        }
        catch (KubeconfigException e)
        {
            throw new CliException(e.Message, "check the kubeconfig file", e);
        }
    }

    /// <summary>The client of <paramref name="context"/> (null: the current context).</summary>
    public KubernetesClient Client(string? context)
    {
        var key = context ?? string.Empty;
        if (_clients.TryGetValue(key, out var client))
        {
            return client;
        }

        KubernetesClientConfiguration configuration;
        try
        {
            configuration = KubeconfigLoader.BuildConfiguration(_kubeconfig, context);
        }
        catch (KubeconfigException e)
        {
            throw new CliException(e.Message, "list the contexts with: kubectl config get-contexts", e);
        }

        client = KubernetesClient.Create(configuration);
        _clients[key] = client;
        return client;
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }
}
