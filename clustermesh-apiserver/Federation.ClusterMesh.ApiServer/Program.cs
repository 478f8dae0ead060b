using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.ClusterMesh.ApiServer.Security;

if (args is ["certs", ..])
{
    return CertificateToolCommand.Run(args[1..], Console.Out, Console.Error);
}

var (options, errors) = ApiServerFlags.Parse(args);
if (errors.Count > 0)
{
    foreach (var error in errors)
    {
        Console.Error.WriteLine($"error: {error}");
    }

    Console.Error.WriteLine(ApiServerFlags.Usage);
    return 2;
}

await using var host = await ApiServerHost.StartAsync(options);
await host.WaitForShutdownAsync();
return 0;
