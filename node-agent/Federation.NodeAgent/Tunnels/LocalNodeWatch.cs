using Federation.Kubernetes.Client;
using Federation.Kubernetes.Informers;
using Federation.NodeAgent.Hosting;
using KubernetesNode = Federation.Kubernetes.Models.Node;

namespace Federation.NodeAgent.Tunnels;

/// <summary>
/// The agent's own Node (an informer with the field selector <c>metadata.name=NODE</c>): what the tunnels publish on it
/// (WireGuard's key annotation) and read from it (IPsec's underlay address and pod CIDRs). Subscribers hear every
/// change, in order, with the Node as it is now (null: deleted or not created yet).
/// </summary>
internal sealed class LocalNodeWatch : BackgroundService, IInformerObserver<KubernetesNode>
{
    private readonly string _nodeName;
    private readonly Informer<KubernetesNode> _informer;
    private readonly List<Action<KubernetesNode?>> _subscribers = [];

    public LocalNodeWatch(AgentOptions options, IKubernetesClient kubernetes, ILoggerFactory loggerFactory, TimeProvider time)
    {
        _nodeName = options.NodeName;
        _informer = new Informer<KubernetesNode>(
            kubernetes,
            new InformerOptions { Name = "node", FieldSelector = $"metadata.name={options.NodeName}" },
            this,
            loggerFactory.CreateLogger<Informer<KubernetesNode>>(),
            time);
    }

    /// <summary>The Node as last seen; null when it does not exist (or the first list has not arrived).</summary>
    public KubernetesNode? Current => _informer.TryGet(null, _nodeName, out var node) ? node : null;

    /// <summary>Whether the first list has arrived (so a null <see cref="Current"/> means the Node does not exist).</summary>
    public bool Synced => _informer.Synced.IsCompletedSuccessfully;

    /// <summary>Calls <paramref name="onChange"/> from the informer's loop after every change; subscribe before the host starts.</summary>
    public void Subscribe(Action<KubernetesNode?> onChange) => _subscribers.Add(onChange);

    public InformerStatus GetStatus() => _informer.GetStatus();

    void IInformerObserver<KubernetesNode>.OnAdd(KubernetesNode item) => Notify(item);

    void IInformerObserver<KubernetesNode>.OnUpdate(KubernetesNode oldItem, KubernetesNode newItem) => Notify(newItem);

    void IInformerObserver<KubernetesNode>.OnDelete(KubernetesNode lastKnown) => Notify(null);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _informer.RunAsync(stoppingToken);

    private void Notify(KubernetesNode? node)
    {
        foreach (var subscriber in _subscribers)
        {
            subscriber(node);
        }
    }
}
