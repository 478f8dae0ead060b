using Federation.ClusterMesh.ApiServer.Hosting;

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
