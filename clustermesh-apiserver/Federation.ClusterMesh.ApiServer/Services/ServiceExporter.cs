using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.HighAvailability;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Informers;
using Federation.Kubernetes.Models;

namespace Federation.ClusterMesh.ApiServer.Services;

/// <summary>
/// Exports global, shared Services with their ready backends to <c>cilium/state/services/v1/&lt;cluster&gt;/&lt;ns&gt;/&lt;name&gt;</c>.
/// Queue keys are <c>namespace/name</c> of Services; EndpointSlice and Namespace events queue the Services they affect.
/// </summary>
internal sealed partial class ServiceExporter : KeyedExporter
{
    public const string ExporterName = "services";

    private readonly Informer<Service> _services;
    private readonly Informer<EndpointSlice> _slices;
    private readonly Informer<Namespace> _namespaces;
    private readonly ILogger<ServiceExporter> _logger;
    private readonly Lock _indexGate = new();

    // Service key → keys of the slices labelled with it (kept from slice events, so a reconcile does not scan every slice).
    private readonly Dictionary<string, HashSet<string>> _slicesByService = new(StringComparer.Ordinal);

    // Service key → resource version already warned about, so a malformed annotation is reported once per change.
    private readonly Dictionary<string, string?> _warned = new(StringComparer.Ordinal);

    public ServiceExporter(IKubernetesClient kubernetes, IEtcdClient etcd, ApiServerOptions options, ILeadership leadership, ExportReadiness readiness, ILoggerFactory loggerFactory)
        : base(ExporterName, ClusterMeshKind.Services, etcd, options, leadership, readiness, loggerFactory)
    {
        _logger = loggerFactory.CreateLogger<ServiceExporter>();
        _services = new Informer<Service>(kubernetes, new InformerOptions { Name = "services" }, new ServiceObserver(this), loggerFactory.CreateLogger<Informer<Service>>());
        _slices = new Informer<EndpointSlice>(
            kubernetes, new InformerOptions { Name = "endpointslices", LabelSelector = GlobalServiceAnnotations.ServiceNameLabel }, new SliceObserver(this), loggerFactory.CreateLogger<Informer<EndpointSlice>>());
        _namespaces = new Informer<Namespace>(kubernetes, new InformerOptions { Name = "namespaces" }, new NamespaceObserver(this), loggerFactory.CreateLogger<Informer<Namespace>>());
    }

    protected override Task InformersSynced => Task.WhenAll(_services.Synced, _slices.Synced, _namespaces.Synced);

    protected override Task RunInformersAsync(CancellationToken cancellationToken)
        => Task.WhenAll(_services.RunAsync(cancellationToken), _slices.RunAsync(cancellationToken), _namespaces.RunAsync(cancellationToken));

    protected override IEnumerable<string> CachedKeys() => _services.List().Select(Informer<Service>.KeyOf);

    protected override (string EtcdKey, byte[]? Value) Compute(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        var (ns, name) = (key[..slash], key[(slash + 1)..]);
        var etcdKey = ClusterMeshKeys.Service(Options.ClusterName, ns, name);
        if (!_services.TryGet(ns, name, out var service))
        {
            lock (_indexGate)
            {
                _warned.Remove(key);
            }

            return (etcdKey, null);
        }

        _namespaces.TryGet(null, ns, out var @namespace);
        var result = ClusterServiceBuilder.Build(service, SlicesOf(key, ns), @namespace, Options.ClusterName, Options.ClusterId);
        ReportInvalid(key, service, @namespace, result.Invalid);
        return (etcdKey, result.Service is null ? null : ClusterMeshJson.Serialize(result.Service));
    }

    private List<EndpointSlice> SlicesOf(string serviceKey, string ns)
    {
        List<string> names;
        lock (_indexGate)
        {
            names = _slicesByService.TryGetValue(serviceKey, out var set) ? [.. set] : [];
        }

        var result = new List<EndpointSlice>(names.Count);
        foreach (var sliceName in names)
        {
            if (_slices.TryGet(ns, sliceName, out var slice))
            {
                result.Add(slice);
            }
        }

        return result;
    }

    private void ReportInvalid(string key, Service service, Namespace? @namespace, IReadOnlyList<BoolAnnotation> invalid)
    {
        var version = $"{service.Metadata.ResourceVersion}/{@namespace?.Metadata.ResourceVersion}";
        lock (_indexGate)
        {
            if (invalid.Count == 0)
            {
                _warned.Remove(key);
                return;
            }

            if (_warned.TryGetValue(key, out var warned) && warned == version)
            {
                return;
            }

            _warned[key] = version;
        }

        foreach (var bad in invalid)
        {
            LogInvalidAnnotation(key, bad.InvalidName!, bad.InvalidValue ?? string.Empty, bad.Value);
            ApiServerMetrics.InvalidObjects.Add(
                1, new KeyValuePair<string, object?>("exporter", ExporterName), new KeyValuePair<string, object?>("reason", "invalid-annotation"));
        }
    }

    private static string? ServiceKeyOf(EndpointSlice slice)
        => slice.Metadata.Labels is { } labels && labels.TryGetValue(GlobalServiceAnnotations.ServiceNameLabel, out var service) && !string.IsNullOrEmpty(service)
            ? Informer<Service>.KeyOf(slice.Metadata.Namespace, service)
            : null;

    private void SliceChanged(EndpointSlice? before, EndpointSlice? after)
    {
        var sliceName = (after ?? before)!.Metadata.Name ?? string.Empty;
        var oldKey = before is null ? null : ServiceKeyOf(before);
        var newKey = after is null ? null : ServiceKeyOf(after);
        lock (_indexGate)
        {
            if (oldKey is not null && oldKey != newKey && _slicesByService.TryGetValue(oldKey, out var oldSet))
            {
                oldSet.Remove(sliceName);
                if (oldSet.Count == 0)
                {
                    _slicesByService.Remove(oldKey);
                }
            }

            if (newKey is not null)
            {
                if (!_slicesByService.TryGetValue(newKey, out var newSet))
                {
                    newSet = new HashSet<string>(StringComparer.Ordinal);
                    _slicesByService[newKey] = newSet;
                }

                newSet.Add(sliceName);
            }
        }

        if (oldKey is not null)
        {
            Enqueue(oldKey);
        }

        if (newKey is not null && newKey != oldKey)
        {
            Enqueue(newKey);
        }
    }

    private void NamespaceChanged(Namespace item)
    {
        var ns = item.Metadata.Name;
        foreach (var service in _services.List())
        {
            if (service.Metadata.Namespace == ns)
            {
                Enqueue(Informer<Service>.KeyOf(service));
            }
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Service {Service}: annotation {Annotation} has the invalid value \"{Value}\" (expected \"true\" or \"false\"); using the default {Default}")]
    private partial void LogInvalidAnnotation(string service, string annotation, string value, bool @default);

    private sealed class ServiceObserver(ServiceExporter owner) : IInformerObserver<Service>
    {
        public void OnAdd(Service item) => owner.Enqueue(Informer<Service>.KeyOf(item));

        public void OnUpdate(Service oldItem, Service newItem) => owner.Enqueue(Informer<Service>.KeyOf(newItem));

        public void OnDelete(Service lastKnown) => owner.Enqueue(Informer<Service>.KeyOf(lastKnown));
    }

    private sealed class SliceObserver(ServiceExporter owner) : IInformerObserver<EndpointSlice>
    {
        public void OnAdd(EndpointSlice item) => owner.SliceChanged(null, item);

        public void OnUpdate(EndpointSlice oldItem, EndpointSlice newItem) => owner.SliceChanged(oldItem, newItem);

        public void OnDelete(EndpointSlice lastKnown) => owner.SliceChanged(lastKnown, null);
    }

    private sealed class NamespaceObserver(ServiceExporter owner) : IInformerObserver<Namespace>
    {
        public void OnAdd(Namespace item) => owner.NamespaceChanged(item);

        public void OnUpdate(Namespace oldItem, Namespace newItem) => owner.NamespaceChanged(newItem);

        public void OnDelete(Namespace lastKnown) => owner.NamespaceChanged(lastKnown);
    }
}
