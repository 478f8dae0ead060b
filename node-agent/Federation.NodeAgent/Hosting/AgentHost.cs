using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.ClusterMesh.ApiServer.Metrics;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Federation.Mesh.Remote;
using Federation.Mesh.Services;
using Federation.NodeAgent.Services;
using Federation.NodeAgent.Sync;
using Federation.NodeAgent.Tunnels;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Federation.NodeAgent.Hosting;

/// <summary>A running node agent: the local and remote sources, the programmer, and the health/metrics/status endpoints.</summary>
internal sealed partial class AgentHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private AgentHost(WebApplication app, Uri healthUri)
    {
        _app = app;
        HealthUri = healthUri;
    }

    /// <summary>Where /healthz, /readyz, /metrics and /status are served.</summary>
    public Uri HealthUri { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Builds and starts the agent. Invalid options throw with every problem listed, each naming its flag; <c>--ipsec=true</c>
    /// on a kernel without ESP throws <see cref="IpsecUnavailableException"/> before anything is started.
    /// </summary>
    public static async Task<AgentHost> StartAsync(
        AgentOptions options, Action<ILoggingBuilder>? configureLogging = null, Action<IServiceCollection>? configureServices = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid node-agent options:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(options));
        }

        if (options.Ipsec && await IpsecSupport.DetectAsync(cancellationToken: cancellationToken).ConfigureAwait(false) is { Available: false } support)
        {
            throw new IpsecUnavailableException(support);
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(options.HealthListen));
        builder.Logging.ClearProviders().AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        configureLogging?.Invoke(builder.Logging);
        AddAgent(builder.Services, options);
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        app.Services.GetRequiredService<PrometheusMetrics>();
        app.Services.GetRequiredService<AgentMetrics>();
        MapEndpoints(app);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var host = new AgentHost(app, new Uri(address.EndsWith('/') ? address : address + "/"));
            LogStarted(app.Services.GetRequiredService<ILogger<AgentHost>>(), options.NodeName, options.ClusterName, options.ClusterId, host.HealthUri.ToString());
            return host;
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Every service of the agent. Hosted services start in order: datapath and programmer, local source, remote source.</summary>
    public static void AddAgent(IServiceCollection services, AgentOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<PrometheusMetrics>();
        services.AddSingleton<IKubernetesClient>(sp => KubernetesClient.Create(
            options.Kubeconfig is null && options.KubeContext is null
                ? KubernetesClientConfiguration.InCluster()
                : KubernetesClientConfiguration.FromKubeconfig(options.KubeContext, options.Kubeconfig),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new GlobalServiceCache(options.ClusterName, options.ClusterId, sp.GetRequiredService<ILogger<GlobalServiceCache>>()));
        services.AddSingleton<AgentState>();
        services.AddSingleton<NodeDatapath>();
        services.AddSingleton<AgentMetrics>();
        services.AddSingleton<RemoteServiceObserver>();
        services.AddSingleton<IRemoteClusterObserver>(sp => new RemoteObservers(
            [
                sp.GetRequiredService<RemoteServiceObserver>(),
                .. options.WireGuard ? [sp.GetRequiredService<WireGuardNodeObserver>()] : Array.Empty<IRemoteClusterObserver>(),
                .. options.Ipsec ? [sp.GetRequiredService<IpsecService>()] : Array.Empty<IRemoteClusterObserver>(),
            ]));
        services.AddSingleton(sp => RemoteSources.LocalEtcd(options, sp.GetService<ILoggerFactory>()));
        services.AddSingleton(RemoteSources.For(options));
        services.AddSingleton(sp => sp.GetRequiredService<RemoteClusterSourceFactory>()(sp));
        services.AddSingleton<LocalServiceSource>();
        services.AddSingleton<RemoteSourceService>();
        services.AddSingleton<ServiceProgrammer>();
        services.AddHostedService(sp => sp.GetRequiredService<ServiceProgrammer>());
        if (options.WireGuard || options.Ipsec)
        {
            services.AddSingleton<LocalNodeWatch>();
            services.AddHostedService(sp => sp.GetRequiredService<LocalNodeWatch>());
        }

        if (options.Ipsec)
        {
            services.AddSingleton<IpsecService>();
            services.AddHostedService(sp => sp.GetRequiredService<IpsecService>());
        }

        if (options.WireGuard)
        {
            services.AddSingleton(sp => new WireGuardDevice(TunnelService.DeviceOptions(options), sp.GetRequiredService<ILogger<WireGuardDevice>>()));
            services.AddSingleton(sp => new WireGuardPeerReconciler(
                sp.GetRequiredService<WireGuardDevice>(),
                new WireGuardPeerReconcilerOptions { PeerPort = options.WireGuardPort, RouteSourceIPv4 = options.WireGuardRouteSource },
                sp.GetRequiredService<ILogger<WireGuardPeerReconciler>>(),
                sp.GetRequiredService<TimeProvider>()));
            services.AddSingleton(sp => new WireGuardNodeObserver(sp.GetRequiredService<WireGuardPeerReconciler>(), sp.GetRequiredService<ILogger<WireGuardNodeObserver>>()));
            services.AddSingleton<TunnelService>();

            // Before the remote source: the interface is up and a previous run's peers are known before the first node record.
            services.AddHostedService(sp => sp.GetRequiredService<TunnelService>());
        }

        services.AddHostedService(sp => sp.GetRequiredService<LocalServiceSource>());
        services.AddHostedService(sp => sp.GetRequiredService<RemoteSourceService>());
    }

    private static void MapEndpoints(WebApplication app)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", (AgentState state) => state.Ready
            ? Results.Text("ok\n")
            : Results.Text($"not ready: waiting for {state.WaitingFor ?? "the first apply"}\n", statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapGet("/metrics", async (HttpContext context, PrometheusMetrics metrics) =>
        {
            // The tunnel gauges report the interface's last read: read it now.
            if (context.RequestServices.GetService<TunnelService>() is { } tunnel)
            {
                await tunnel.RefreshAsync(context.RequestAborted).ConfigureAwait(false);
            }

            return Results.Text(metrics.Render(), "text/plain; version=0.0.4; charset=utf-8");
        });
        app.MapGet("/status", async (HttpContext context, AgentOptions options, AgentState state, LocalServiceSource local, IRemoteClusterSource remote, NodeDatapath datapath) =>
        {
            var status = Status(options, state, local, remote, datapath);
            status["wireguard"] = context.RequestServices.GetService<TunnelService>() is { } tunnel
                ? await tunnel.StatusAsync(context.RequestAborted).ConfigureAwait(false)
                : new JsonObject { ["enabled"] = false };
            return Results.Text(status.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), "application/json");
        });
    }

    private static JsonObject Status(AgentOptions options, AgentState state, LocalServiceSource local, IRemoteClusterSource remote, NodeDatapath datapath)
    {
        var programmed = state.Programmed;
        var services = new JsonArray();
        foreach (var service in programmed.Services)
        {
            var frontends = new JsonArray();
            foreach (var frontend in service.Frontends)
            {
                var backends = new JsonArray();
                foreach (var backend in frontend.Backends)
                {
                    backends.Add(new JsonObject
                    {
                        ["address"] = $"{backend.Address}:{backend.Port}",
                        ["cluster"] = backend.Cluster,
                        ["clusterID"] = backend.ClusterId,
                        ["state"] = backend.State,
                    });
                }

                frontends.Add(new JsonObject { ["frontend"] = frontend.Frontend, ["backends"] = backends });
            }

            services.Add(new JsonObject { ["service"] = service.Key, ["frontends"] = frontends });
        }

        var perCluster = new JsonObject();
        foreach (var (cluster, count) in programmed.BackendsPerCluster)
        {
            perCluster[cluster] = count;
        }

        var informers = new JsonArray();
        foreach (var informer in local.GetStatus())
        {
            informers.Add(new JsonObject
            {
                ["name"] = informer.Name,
                ["synced"] = informer.Synced,
                ["items"] = informer.Items,
                ["lastError"] = informer.LastError,
            });
        }

        var errors = new JsonArray();
        foreach (var error in state.Errors)
        {
            errors.Add(new JsonObject { ["at"] = error.At.ToString("O"), ["where"] = error.Where, ["message"] = error.Message });
        }

        var skipped = new JsonObject();
        foreach (var (reason, count) in programmed.SkippedFrontends)
        {
            skipped[reason] = count;
        }

        var skippedBackends = new JsonObject();
        foreach (var (reason, count) in programmed.SkippedBackends)
        {
            skippedBackends[reason] = count;
        }

        var counters = datapath.ReadCounters();
        return new JsonObject
        {
            ["node"] = options.NodeName,
            ["cluster"] = options.ClusterName,
            ["clusterID"] = options.ClusterId,
            ["ready"] = state.Ready,
            ["sync"] = new JsonObject
            {
                ["local"] = state.LocalSynced,
                ["remote"] = state.RemoteSynced,
                ["timedOut"] = state.SyncTimedOut,
                ["waitingFor"] = state.WaitingFor,
                ["secondsToFirstApply"] = state.SecondsToFirstApply,
            },
            ["localInformers"] = informers,
            ["remoteSource"] = options.RemoteSource.ToString().ToLowerInvariant(),
            ["remotes"] = JsonSerializer.SerializeToNode(remote.GetStatus(), RemoteClusterStatusJsonContext.Default.RemoteClustersStatus),
            ["services"] = services,
            ["backendsPerCluster"] = perCluster,
            ["skippedFrontends"] = skipped,
            ["skippedBackends"] = skippedBackends,
            ["datapath"] = new JsonObject
            {
                ["pinDirectory"] = options.PinDirectory,
                ["serviceMapEntries"] = programmed.ServiceMapEntries,
                ["backendMapEntries"] = programmed.BackendMapEntries,
                ["translations"] = counters?.Translations,
                ["backendMisses"] = counters?.BackendMisses,
                ["noBackend"] = counters?.NoBackendRejects,
            },
            ["lastErrors"] = errors,
        };
    }

    /// <summary>Completes when the host shuts down (SIGTERM, Ctrl+C, or <see cref="DisposeAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Stops the agent; the datapath stays attached and programmed (pins) for the next run, and so does the WireGuard interface.</summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(1, LogLevel.Information, "node-agent for node {Node} of cluster {Cluster} (ID {ClusterId}) serving health and metrics on {Uri}")]
    private static partial void LogStarted(ILogger logger, string node, string cluster, uint clusterId, string uri);
}
