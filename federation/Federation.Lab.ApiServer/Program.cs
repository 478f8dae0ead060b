using Federation.Lab.ApiServer.Hosting;

var (options, errors) = LabApiServerFlags.Parse(args);
if (errors.Count > 0)
{
    foreach (var error in errors)
    {
        Console.Error.WriteLine($"error: {error}");
    }

    Console.Error.WriteLine(LabApiServerFlags.Usage);
    return 2;
}

await using var host = await LabApiServerHost.StartAsync(options);
await host.WaitForShutdownAsync();
return 0;
