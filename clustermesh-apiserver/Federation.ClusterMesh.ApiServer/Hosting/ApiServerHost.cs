using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.HighAvailability;
using Federation.ClusterMesh.ApiServer.Identities;
using Federation.ClusterMesh.ApiServer.KvStoreMesh;
using Federation.ClusterMesh.ApiServer.Metrics;
using Federation.ClusterMesh.ApiServer.Nodes;
using Federation.ClusterMesh.ApiServer.Security;
using Federation.ClusterMesh.ApiServer.Services;
using Federation.Etcd;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Federation.ClusterMesh.ApiServer.Hosting;

/// <summary>A running clustermesh-apiserver: the exporters as hosted services and the health/metrics/status endpoints.</summary>
public sealed partial class ApiServerHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ApiServerHost(WebApplication app, Uri healthUri)
    {
        _app = app;
        HealthUri = healthUri;
    }

    /// <summary>Where /healthz, /readyz, /metrics and /status are served.</summary>
    public Uri HealthUri { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Builds and starts the server. Invalid options throw with every problem listed.</summary>
    public static async Task<ApiServerHost> StartAsync(
        ApiServerOptions options, Action<ILoggingBuilder>? configureLogging = null, Action<IServiceCollection>? configureServices = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid clustermesh-apiserver options:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(options));
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(options.HealthListen));
        builder.Logging.ClearProviders().AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss.fff ";
        });
        // Probes hit /readyz every few seconds: per-request lines would bury what the exporters say.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        configureLogging?.Invoke(builder.Logging);
        AddApiServer(builder.Services, options);
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        // Listen from the start: a counter incremented before the first scrape must still count.
        app.Services.GetRequiredService<PrometheusMetrics>();
        MapEndpoints(app);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var host = new ApiServerHost(app, new Uri(address.EndsWith('/') ? address : address + "/"));
            LogStarted(app.Services.GetRequiredService<ILogger<ApiServerHost>>(), options.ClusterName, options.ClusterId, host.HealthUri.ToString());
            return host;
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Every service of the apiserver, for the host above and for tests that compose their own.</summary>
    public static void AddApiServer(IServiceCollection services, ApiServerOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IEtcdClient>(sp => EtcdClient.Create(
            new EtcdClientOptions
            {
                Endpoints = [.. options.EtcdEndpoints],
                CaFile = options.EtcdCaFile,
                CertFile = options.EtcdCertFile,
                KeyFile = options.EtcdKeyFile,
            },
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton<IKubernetesClient>(sp => KubernetesClient.Create(
            options.Kubeconfig is null && options.KubeContext is null
                ? KubernetesClientConfiguration.InCluster()
                : KubernetesClientConfiguration.FromKubeconfig(options.KubeContext, options.Kubeconfig),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ILeadership, SoleLeader>();
        services.AddSingleton<ExportReadiness>();
        services.AddSingleton<PrometheusMetrics>();

        // Hosted services start in this order: etcd users and roles exist before anything is written,
        // and leadership is settled before exporters ask for it.
        services.AddEtcdSecurity(options);
        services.AddHighAvailability(options);
        services.AddHostedService<ClusterConfigExporter>();
        services.AddServiceExport(options);
        services.AddNodeExport(options);
        services.AddIdentityExport(options);
        services.AddKvStoreMesh(options);
    }

    private static void MapEndpoints(WebApplication app)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", (ExportReadiness readiness) => readiness.IsReady
            ? Results.Text("ok\n")
            : Results.Text(
                "not ready: " + string.Join(", ", readiness.Parts.Where(p => !p.Value).Select(p => p.Key).DefaultIfEmpty("nothing registered")) + "\n",
                statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapGet("/metrics", (PrometheusMetrics metrics, ExportReadiness readiness) =>
        {
            var text = metrics.Render();
            if (readiness.BootstrapSeconds is { } seconds)
            {
                text += "# HELP federation_clustermesh_bootstrap_seconds Seconds from start until the cluster config and every synced canary were written.\n"
                    + "# TYPE federation_clustermesh_bootstrap_seconds gauge\n"
                    + $"federation_clustermesh_bootstrap_seconds {seconds.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}\n";
            }

            return Results.Text(text, "text/plain; version=0.0.4; charset=utf-8");
        });
        app.MapGet("/status", (ApiServerOptions options, ExportReadiness readiness, ILeadership leadership, IEnumerable<IStatusContributor> contributors) =>
        {
            var parts = new JsonObject();
            foreach (var (name, done) in readiness.Parts)
            {
                parts[name] = done;
            }

            var status = new JsonObject
            {
                ["cluster"] = options.ClusterName,
                ["clusterID"] = options.ClusterId,
                ["replica"] = options.ReplicaId,
                ["leader"] = leadership.IsLeader,
                ["ready"] = readiness.IsReady,
                ["bootstrapSeconds"] = readiness.BootstrapSeconds,
                ["synced"] = parts,
            };
            foreach (var contributor in contributors)
            {
                status[contributor.Name] = contributor.GetStatus();
            }

            return Results.Text(status.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), "application/json");
        });
    }

    /// <summary>Completes when the host shuts down (SIGTERM, Ctrl+C, or <see cref="DisposeAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(1, LogLevel.Information, "clustermesh-apiserver for cluster {Cluster} (ID {ClusterId}) serving health and metrics on {Uri}")]
    private static partial void LogStarted(ILogger logger, string cluster, uint clusterId, string uri);
}
