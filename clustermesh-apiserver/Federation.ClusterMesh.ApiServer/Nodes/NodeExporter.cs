using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.HighAvailability;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Informers;
using KubeNode = Federation.Kubernetes.Models.Node;

namespace Federation.ClusterMesh.ApiServer.Nodes;

/// <summary>Exports every Node to <c>cilium/state/nodes/v1/&lt;cluster&gt;/&lt;node&gt;</c>; queue keys are node names.</summary>
internal sealed partial class NodeExporter : KeyedExporter
{
    public const string ExporterName = "nodes";

    private readonly Informer<KubeNode> _nodes;
    private readonly ILogger<NodeExporter> _logger;

    public NodeExporter(IKubernetesClient kubernetes, IEtcdClient etcd, ApiServerOptions options, ILeadership leadership, ExportReadiness readiness, ILoggerFactory loggerFactory)
        : base(ExporterName, ClusterMeshKind.Nodes, etcd, options, leadership, readiness, loggerFactory)
    {
        _logger = loggerFactory.CreateLogger<NodeExporter>();
        _nodes = new Informer<KubeNode>(kubernetes, new InformerOptions { Name = "nodes" }, new Observer(this), loggerFactory.CreateLogger<Informer<KubeNode>>());
    }

    protected override Task InformersSynced => _nodes.Synced;

    protected override Task RunInformersAsync(CancellationToken cancellationToken) => _nodes.RunAsync(cancellationToken);

    protected override IEnumerable<string> CachedKeys() => _nodes.List().Select(Informer<KubeNode>.KeyOf);

    protected override (string EtcdKey, byte[]? Value) Compute(string key)
    {
        var etcdKey = ClusterMeshKeys.Node(Options.ClusterName, key);
        if (!_nodes.TryGet(null, key, out var node))
        {
            return (etcdKey, null);
        }

        var result = NodeRecordBuilder.Build(node, Options.ClusterName, Options.ClusterId);
        foreach (var cidr in result.InvalidCidrs)
        {
            LogInvalidCidr(key, cidr);
            ApiServerMetrics.InvalidObjects.Add(
                1, new KeyValuePair<string, object?>("exporter", ExporterName), new KeyValuePair<string, object?>("reason", "invalid-pod-cidr"));
        }

        return (etcdKey, ClusterMeshJson.Serialize(result.Node));
    }

    [LoggerMessage(1, LogLevel.Warning, "Node {Node}: pod CIDR \"{Cidr}\" is not a CIDR; skipped")]
    private partial void LogInvalidCidr(string node, string cidr);

    private sealed class Observer(NodeExporter owner) : IInformerObserver<KubeNode>
    {
        public void OnAdd(KubeNode item) => owner.Enqueue(Informer<KubeNode>.KeyOf(item));

        public void OnUpdate(KubeNode oldItem, KubeNode newItem) => owner.Enqueue(Informer<KubeNode>.KeyOf(newItem));

        public void OnDelete(KubeNode lastKnown) => owner.Enqueue(Informer<KubeNode>.KeyOf(lastKnown));
    }
}
