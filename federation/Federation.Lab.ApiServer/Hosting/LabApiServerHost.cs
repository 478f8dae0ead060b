using System.Security.Cryptography.X509Certificates;
using Federation.Etcd;
using Federation.Lab.ApiServer.Api;
using Federation.Lab.ApiServer.Controllers;
using Federation.Lab.ApiServer.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Options;

namespace Federation.Lab.ApiServer.Hosting;

/// <summary>
/// A running lab API server in this process: Kestrel on a loopback address with TLS and required client
/// certificates, the REST API, the store, the bootstrap namespaces and the lab controllers. Dispose to stop.
/// </summary>
public sealed partial class LabApiServerHost : IAsyncDisposable
{
    /// <summary>Namespaces that exist from the start.</summary>
    public static readonly IReadOnlyList<string> InitialNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];

    private readonly WebApplication _app;

    private LabApiServerHost(WebApplication app, Uri baseUri)
    {
        _app = app;
        BaseUri = baseUri;
    }

    /// <summary>https://127.0.0.1:PORT/ with the port actually bound.</summary>
    public Uri BaseUri { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The object store, for in-process users (tests, controllers).</summary>
    public ObjectStore Store => _app.Services.GetRequiredService<ObjectStore>();

    /// <summary>Validates the options, starts the server and returns once it listens and the initial namespaces exist.</summary>
    public static async Task<LabApiServerHost> StartAsync(
        LabApiServerOptions options, Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid lab API server options:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(options));
        }

        var app = Build(options, configureLogging);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var baseUri = new Uri(address.EndsWith('/') ? address : address + "/");
            var host = new LabApiServerHost(app, baseUri);
            LogListening(app.Services.GetRequiredService<ILogger<LabApiServerHost>>(), options.ClusterName, baseUri.ToString());
            return host;
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Completes when the host shuts down (SIGTERM, Ctrl+C, or <see cref="DisposeAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync().ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static WebApplication Build(LabApiServerOptions options, Action<ILoggingBuilder>? configureLogging)
    {
        ServiceIpRange.TryParse(options.ServiceClusterIpRange, out var range, out _);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        configureLogging?.Invoke(builder.Logging);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));

        var serverCertificate = X509Certificate2.CreateFromPemFile(options.TlsCertFile, options.TlsPrivateKeyFile);
        var clientCas = new X509Certificate2Collection();
        clientCas.ImportFromPemFile(options.ClientCaFile);
        var validator = new ClientCertificateValidator(clientCas);
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(options.Listen, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = serverCertificate,
                ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                ClientCertificateValidation = (certificate, _, _) => validator.IsValid(certificate),
            });
        }));

        var services = builder.Services;
        services.AddSingleton(Options.Create(options));
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
        services.AddSingleton(sp => new ObjectStore(
            sp.GetRequiredService<IEtcdClient>(), options.EtcdPrefix, range!, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ObjectStore>>()));
        services.AddSingleton<ResourceApi>();
        services.AddHostedService<NamespaceBootstrapper>();
        services.AddLabControllers();

        var app = builder.Build();
        var api = app.Services.GetRequiredService<ResourceApi>();
        var logger = app.Services.GetRequiredService<ILogger<LabApiServerHost>>();
        app.Run(async context =>
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                LogRequest(logger, context.Connection.ClientCertificate?.GetNameInfo(X509NameType.SimpleName, false) ?? "", context.Request.Method, context.Request.Path + context.Request.QueryString);
            }

            await api.HandleAsync(context).ConfigureAwait(false);
        });
        return app;
    }

    [LoggerMessage(1, LogLevel.Information, "Lab API server of cluster {Cluster} listening on {Address}")]
    private static partial void LogListening(ILogger logger, string cluster, string address);

    [LoggerMessage(2, LogLevel.Debug, "{User}: {Method} {Target}")]
    private static partial void LogRequest(ILogger logger, string user, string method, string target);
}
