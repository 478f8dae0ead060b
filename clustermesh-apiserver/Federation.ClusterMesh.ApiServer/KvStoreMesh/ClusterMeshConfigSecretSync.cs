using System.Collections.Immutable;
using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Informers;
using Federation.Kubernetes.Models;
using Polly;
using Polly.Retry;

namespace Federation.ClusterMesh.ApiServer.KvStoreMesh;

/// <summary>
/// <c>--clustermesh-config-secret</c>: watches the Secret (Cilium's <c>cilium-clustermesh</c>) and keeps the
/// <c>--clustermesh-config</c> directory equal to its data, as the kubelet would for a Secret volume; kvstoremesh reads
/// the directory as usual. Nothing is removed before the first complete list; a deleted Secret empties the directory.
/// Runs on every replica: each one reads its own directory.
/// </summary>
[UnsupportedOSPlatform("windows")] // file modes (0600); the apiserver runs on Linux
internal sealed partial class ClusterMeshConfigSecretSync : BackgroundService, IStatusContributor
{
    private readonly string _directory;
    private readonly string _namespace;
    private readonly string _name;
    private readonly Informer<Secret> _informer;
    private readonly ILogger<ClusterMeshConfigSecretSync> _logger;
    private readonly ResiliencePipeline _retry;
    private readonly Channel<bool> _changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly HashSet<string> _reportedUnsafe = new(StringComparer.Ordinal);
    private volatile ClusterMeshConfigFilesResult? _last;
    private volatile string? _lastError;
    private long _applies;

    public ClusterMeshConfigSecretSync(IKubernetesClient kubernetes, ApiServerOptions options, TimeProvider time, ILoggerFactory loggerFactory)
    {
        (_namespace, _name) = options.ClusterMeshConfigSecretRef ?? throw new ArgumentException("--clustermesh-config-secret is not set", nameof(options));
        _directory = options.ClusterMeshConfig ?? throw new ArgumentException("--clustermesh-config is not set", nameof(options));
        _logger = loggerFactory.CreateLogger<ClusterMeshConfigSecretSync>();
        _informer = new Informer<Secret>(
            kubernetes,
            new InformerOptions { Name = "clustermesh-config-secret", Namespace = _namespace, FieldSelector = "metadata.name=" + _name },
            new Observer(this),
            loggerFactory.CreateLogger<Informer<Secret>>(),
            time);
        _retry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<IOException>().Handle<UnauthorizedAccessException>(),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(200),
                MaxDelay = TimeSpan.FromSeconds(30),
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    _lastError = args.Outcome.Exception?.Message;
                    LogWriteFailed(_directory, args.Outcome.Exception?.Message ?? "unknown", args.RetryDelay.TotalMilliseconds);
                    return default;
                },
            })
            .Build();
    }

    public string Name => "clustermeshConfigSecret";

    public JsonNode GetStatus()
    {
        var last = _last;
        return new JsonObject
        {
            ["secret"] = $"{_namespace}/{_name}",
            ["directory"] = _directory,
            ["synced"] = last is not null,
            ["secretExists"] = _informer.TryGet(_namespace, _name, out _),
            ["files"] = last is null ? null : new JsonArray([.. last.Files.Select(f => (JsonNode?)f)]),
            ["skippedKeys"] = last is null ? null : new JsonArray([.. last.UnsafeKeys.Select(k => (JsonNode?)k)]),
            ["applies"] = Interlocked.Read(ref _applies),
            ["lastError"] = _lastError ?? _informer.GetStatus().LastError,
        };
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // kvstoremesh watches the directory: it must exist before the first list fills it.
        Directory.CreateDirectory(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        LogStarted(_namespace, _name, _directory);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var informer = _informer.RunAsync(stoppingToken);
        try
        {
            await _informer.Synced.WaitAsync(stoppingToken).ConfigureAwait(false);
            do
            {
                await _retry.ExecuteAsync(_ => { Apply(); return default; }, stoppingToken).ConfigureAwait(false);
            }
            while (await _changed.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false) && _changed.Reader.TryRead(out _));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await informer.ConfigureAwait(false);
        }
    }

    private void Apply()
    {
        // Drain the signal first: a change arriving during the apply signals again and is applied next.
        _changed.Reader.TryRead(out _);
        var data = _informer.TryGet(_namespace, _name, out var secret) ? secret.Data ?? ImmutableDictionary<string, byte[]>.Empty : null;
        var result = ClusterMeshConfigFiles.Apply(_directory, data);
        foreach (var key in result.UnsafeKeys)
        {
            if (_reportedUnsafe.Add(key))
            {
                LogUnsafeKey(_namespace, _name, key);
                ApiServerMetrics.ConfigSecretSkippedKeys.Add(1);
            }
        }

        // A key that comes back later is reported again.
        _reportedUnsafe.IntersectWith(result.UnsafeKeys);
        if (data is null && _last?.Files.Length != 0)
        {
            LogSecretAbsent(_namespace, _name, _directory);
        }

        if (result.Written.Length > 0 || result.Removed.Length > 0)
        {
            LogApplied(_directory, string.Join(",", result.Written), string.Join(",", result.Removed), result.Files.Length);
        }

        _last = result;
        _lastError = null;
        Interlocked.Increment(ref _applies);
    }

    private void Changed() => _changed.Writer.TryWrite(true);

    [LoggerMessage(1, LogLevel.Information, "Keeping {Directory} equal to the Secret {Namespace}/{Name}")]
    private partial void LogStarted(string @namespace, string name, string directory);

    [LoggerMessage(2, LogLevel.Information, "{Directory}: wrote [{Written}], removed [{Removed}]; {Files} files from the Secret")]
    private partial void LogApplied(string directory, string written, string removed, int files);

    [LoggerMessage(3, LogLevel.Warning, "Secret {Namespace}/{Name}: key \"{Key}\" is not a safe file name ('/', '..' or a leading '.'); skipped")]
    private partial void LogUnsafeKey(string @namespace, string name, string key);

    [LoggerMessage(4, LogLevel.Warning, "Secret {Namespace}/{Name} does not exist: {Directory} is emptied (no remote clusters)")]
    private partial void LogSecretAbsent(string @namespace, string name, string directory);

    [LoggerMessage(5, LogLevel.Warning, "Writing {Directory} from the Secret failed ({Reason}); retrying in {DelayMs} ms")]
    private partial void LogWriteFailed(string directory, string reason, double delayMs);

    private sealed class Observer(ClusterMeshConfigSecretSync owner) : IInformerObserver<Secret>
    {
        public void OnAdd(Secret item) => owner.Changed();

        public void OnUpdate(Secret oldItem, Secret newItem) => owner.Changed();

        public void OnDelete(Secret lastKnown) => owner.Changed();
    }
}
