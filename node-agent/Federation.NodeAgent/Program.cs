using Federation.NodeAgent.Hosting;
using Federation.NodeAgent.Tunnels;

if (args is ["--help"] or ["-h"])
{
    Console.WriteLine(AgentFlags.Usage);
    return 0;
}

var (options, errors) = AgentFlags.Parse(args);
if (errors.Count > 0)
{
    foreach (var error in errors)
    {
        Console.Error.WriteLine($"error: {error}");
    }

    Console.Error.WriteLine(AgentFlags.Usage);
    return 2;
}

switch (options.Mode)
{
    case AgentMode.Dump:
        return await AgentCommands.DumpAsync(options, Console.Out, Console.Error);
    case AgentMode.Uninstall:
        using (var loggerFactory = LoggerFactory.Create(logging => logging.AddSimpleConsole(console => console.SingleLine = true)))
        {
            return await AgentCommands.UninstallAsync(options, loggerFactory, Console.Out);
        }

    default:
        AgentHost host;
        try
        {
            host = await AgentHost.StartAsync(options);
        }
        catch (IpsecUnavailableException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }

        await using (host)
        {
            await host.WaitForShutdownAsync();
        }

        return 0;
}
