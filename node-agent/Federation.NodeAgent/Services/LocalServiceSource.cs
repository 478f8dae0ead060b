using Federation.Kubernetes.Client;
using Federation.Kubernetes.Informers;
using Federation.Kubernetes.Models;
using Federation.Mesh.Services;

namespace Federation.NodeAgent.Services;

/// <summary>
/// Follows the local cluster's Services and EndpointSlices and keeps the <see cref="GlobalServiceCache"/>'s
/// local part equal to them: one <see cref="LocalService"/> per Service with a cluster IP.
/// </summary>
/// <remarks>
/// A change is applied to the cache inside the informer's callback (the cache only enqueues for the programmer),
/// so <see cref="Synced"/> — both informers' first complete list delivered — means the cache holds every local Service.
/// </remarks>
internal sealed partial class LocalServiceSource : BackgroundService
{
    private readonly GlobalServiceCache _cache;
    private readonly ILogger<LocalServiceSource> _logger;
    private readonly Informer<Service> _services;
    private readonly Informer<EndpointSlice> _slices;
    private readonly Lock _gate = new();

    // Service key (ns/name) → keys of its slices, and slice key → the service it was last indexed under.
    private readonly Dictionary<string, HashSet<string>> _slicesByService = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _serviceOfSlice = new(StringComparer.Ordinal);
    private readonly HashSet<string> _programmed = new(StringComparer.Ordinal);

    public LocalServiceSource(IKubernetesClient kubernetes, GlobalServiceCache cache, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        _cache = cache;
        _logger = loggerFactory.CreateLogger<LocalServiceSource>();
        _services = new Informer<Service>(
            kubernetes, new InformerOptions { Name = "services" }, new ServiceObserver(this), loggerFactory.CreateLogger<Informer<Service>>(), timeProvider);
        _slices = new Informer<EndpointSlice>(
            kubernetes,
            new InformerOptions { Name = "endpointslices", LabelSelector = LocalServiceBuilder.ServiceNameLabel },
            new SliceObserver(this),
            loggerFactory.CreateLogger<Informer<EndpointSlice>>(),
            timeProvider);
    }

    /// <summary>Completes when both informers delivered their first complete list (the cache holds every local Service).</summary>
    public Task Synced => Task.WhenAll(_services.Synced, _slices.Synced);

    public bool IsSynced => Synced.IsCompletedSuccessfully;

    public IReadOnlyList<InformerStatus> GetStatus() => [_services.GetStatus(), _slices.GetStatus()];

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
        => Task.WhenAll(_services.RunAsync(stoppingToken), _slices.RunAsync(stoppingToken));

    private void Reconcile(string serviceKey)
    {
        try
        {
            lock (_gate)
            {
                var (ns, name) = Split(serviceKey);
                LocalService? local = null;
                if (_services.TryGet(ns, name, out var service))
                {
                    var slices = new List<EndpointSlice>();
                    if (_slicesByService.TryGetValue(serviceKey, out var sliceKeys))
                    {
                        foreach (var sliceKey in sliceKeys)
                        {
                            var (sliceNs, sliceName) = Split(sliceKey);
                            if (_slices.TryGet(sliceNs, sliceName, out var slice))
                            {
                                slices.Add(slice);
                            }
                        }
                    }

                    var (built, problems) = LocalServiceBuilder.Build(service, slices);
                    foreach (var problem in problems)
                    {
                        Log.AnnotationProblem(_logger, serviceKey, problem);
                    }

                    local = built;
                }

                if (local is not null)
                {
                    _programmed.Add(serviceKey);
                    _cache.UpsertLocal(local);
                }
                else if (_programmed.Remove(serviceKey))
                {
                    _cache.DeleteLocal(ns ?? string.Empty, name);
                }
            }
        }
        catch (Exception e)
        {
            // An informer observer must not throw; a bug here is logged and the next change retries.
            Log.ReconcileFailed(_logger, serviceKey, e);
        }
    }

    private void IndexSlice(EndpointSlice slice, bool deleted)
    {
        var sliceKey = Informer<EndpointSlice>.KeyOf(slice);
        string? previous;
        string? current = null;
        lock (_gate)
        {
            _serviceOfSlice.TryGetValue(sliceKey, out previous);
            if (!deleted && slice.Metadata.Labels?.TryGetValue(LocalServiceBuilder.ServiceNameLabel, out var serviceName) == true)
            {
                current = Informer<Service>.KeyOf(slice.Metadata.Namespace, serviceName);
            }

            if (previous is not null && previous != current && _slicesByService.TryGetValue(previous, out var old))
            {
                old.Remove(sliceKey);
                if (old.Count == 0)
                {
                    _slicesByService.Remove(previous);
                }
            }

            if (current is null)
            {
                _serviceOfSlice.Remove(sliceKey);
            }
            else
            {
                _serviceOfSlice[sliceKey] = current;
                if (!_slicesByService.TryGetValue(current, out var set))
                {
                    _slicesByService[current] = set = new HashSet<string>(StringComparer.Ordinal);
                }

                set.Add(sliceKey);
            }
        }

        if (previous is not null && previous != current)
        {
            Reconcile(previous);
        }

        if (current is not null)
        {
            Reconcile(current);
        }
    }

    private static (string? Namespace, string Name) Split(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? (null, key) : (key[..slash], key[(slash + 1)..]);
    }

    private sealed class ServiceObserver(LocalServiceSource owner) : IInformerObserver<Service>
    {
        public void OnAdd(Service item) => owner.Reconcile(Informer<Service>.KeyOf(item));

        public void OnUpdate(Service oldItem, Service newItem) => owner.Reconcile(Informer<Service>.KeyOf(newItem));

        public void OnDelete(Service lastKnown) => owner.Reconcile(Informer<Service>.KeyOf(lastKnown));
    }

    private sealed class SliceObserver(LocalServiceSource owner) : IInformerObserver<EndpointSlice>
    {
        public void OnAdd(EndpointSlice item) => owner.IndexSlice(item, deleted: false);

        public void OnUpdate(EndpointSlice oldItem, EndpointSlice newItem) => owner.IndexSlice(newItem, deleted: false);

        public void OnDelete(EndpointSlice lastKnown) => owner.IndexSlice(lastKnown, deleted: true);
    }
}
