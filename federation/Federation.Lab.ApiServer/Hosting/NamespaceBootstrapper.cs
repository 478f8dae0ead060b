using Federation.Lab.ApiServer.Storage;

namespace Federation.Lab.ApiServer.Hosting;

/// <summary>Creates the namespaces every cluster has before the server takes requests.</summary>
internal sealed class NamespaceBootstrapper(ObjectStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => store.EnsureNamespacesAsync(LabApiServerHost.InitialNamespaces, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
