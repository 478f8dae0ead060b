namespace Federation.Lab.ApiServer.Controllers;

/// <summary>
/// The lab's in-process controllers, registered as hosted services, as kube-controller-manager's would run.
/// They use the host's <see cref="Storage.ObjectStore"/> directly and start after the initial namespaces exist.
/// </summary>
internal static class LabControllers
{
    /// <summary>Registers every lab controller.</summary>
    public static IServiceCollection AddLabControllers(this IServiceCollection services)
    {
        services.AddSingleton<EndpointSliceController>();
        services.AddHostedService(sp => sp.GetRequiredService<EndpointSliceController>());
        return services;
    }
}
