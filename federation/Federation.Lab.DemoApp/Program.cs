using Federation.Lab.DemoApp.Cli;
using Federation.Lab.DemoApp.Request;
using Federation.Lab.DemoApp.Serve;

try
{
    switch (args)
    {
        case ["serve", .. var rest]:
            return await ServeCommand.RunAsync(ServeOptions.Parse(rest));
        case ["request", .. var rest]:
            using (var stop = new CancellationTokenSource())
            {
                Console.CancelKeyPress += (_, e) =>
                {
                    e.Cancel = true;
                    stop.Cancel();
                };
                return await RequestCommand.RunAsync(RequestOptions.Parse(rest), Console.Out, stop.Token);
            }

        case ["--help" or "-h" or "help", ..]:
            Console.Out.WriteLine(Usage.Text);
            return 0;
        case [var command, ..]:
            throw new FlagException($"unknown command '{command}' (serve or request)");
        default:
            throw new FlagException("a command is required (serve or request)");
    }
}
catch (FlagException ex)
{
    Console.Error.WriteLine($"lab-demo-app: {ex.Message}");
    Console.Error.WriteLine(Usage.Text);
    return 2;
}
