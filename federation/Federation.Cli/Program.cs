using Federation.Cli;

var app = new CliApp(Console.Out, Console.Error, interactive: !Console.IsOutputRedirected);
return await app.RunAsync(args);
