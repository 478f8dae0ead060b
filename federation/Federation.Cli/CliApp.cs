using System.CommandLine;
using Federation.Cli.Mesh;
using Spectre.Console;

namespace Federation.Cli;

/// <summary>The <c>clustermesh</c> command tree. Output goes to <see cref="Console"/>; errors are one line plus a hint.</summary>
public sealed partial class CliApp
{
    private readonly Option<string?> _kubeconfig = new("--kubeconfig") { Description = "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)", Recursive = true };
    private readonly Option<bool> _verbose = new("--verbose") { Description = "show stack traces and more detail", Recursive = true };

    /// <summary>A CLI writing to <paramref name="output"/> and <paramref name="error"/>; <paramref name="interactive"/> enables colours and live displays.</summary>
    public CliApp(TextWriter output, TextWriter error, bool interactive)
    {
        Output = output;
        Error = error;
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!interactive)
        {
            Console.Profile.Width = 160;
        }
    }

    public IAnsiConsole Console { get; }

    public TextWriter Output { get; }

    public TextWriter Error { get; }

    /// <summary>Runs the command line and returns the exit code.</summary>
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var root = Build();
        var parse = root.Parse(args);
        // Ctrl-C cancels the token; lab up then removes what it made, which takes seconds: wait for it rather than the default 2 s.
        return await parse.InvokeAsync(new InvocationConfiguration { Error = Error, Output = Output, ProcessTerminationTimeout = TimeSpan.FromSeconds(120) }, cancellationToken);
    }

    public RootCommand Build()
    {
        var root = new RootCommand("clustermesh: join Kubernetes clusters into one service mesh (ClusterMesh compatible), and run a local lab of them");
        root.Options.Add(_kubeconfig);
        root.Options.Add(_verbose);
        root.Subcommands.Add(EnableCommand());
        root.Subcommands.Add(ConnectCommand());
        root.Subcommands.Add(DisconnectCommand());
        root.Subcommands.Add(StatusCommand());
        root.Subcommands.Add(ServiceCommand());
        root.Subcommands.Add(LabCommand());
        return root;
    }

    private static Option<string> ContextOption(bool required = true)
        => new("--context") { Description = "kubeconfig context of the cluster", Required = required };

    /// <summary>Runs <paramref name="action"/>, turning failures into one clear line and a hint (exit 1).</summary>
    private Func<ParseResult, CancellationToken, Task<int>> Guard(Func<ParseResult, CancellationToken, Task<int>> action)
        => async (parse, cancellationToken) =>
        {
            var verbose = parse.GetValue(_verbose);
            try
            {
                return await action(parse, cancellationToken);
            }
            catch (CliException e)
            {
                await Error.WriteLineAsync($"error: {e.Message}");
                if (e.Hint is { } hint)
                {
                    await Error.WriteLineAsync($"hint: {hint}");
                }

                if (verbose)
                {
                    await Error.WriteLineAsync(e.ToString());
                }

                return 1;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await Error.WriteLineAsync("error: interrupted");
                return 130;
            }
            catch (Exception e)
            {
                await Error.WriteLineAsync($"error: {e.GetType().Name}: {e.Message}");
                await Error.WriteLineAsync(verbose ? e.ToString() : "hint: run again with --verbose for the details");
                return 1;
            }
        };

    private KubeContexts Contexts(ParseResult parse) => KubeContexts.Load(parse.GetValue(_kubeconfig));

    internal static TimeSpan ParseDuration(string option, string text)
    {
        text = text.Trim();
        var (number, unit) = text.Length > 0 && char.IsLetter(text[^1]) ? (text[..^1], text[^1]) : (text, 's');
        if (!double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value) || value < 0)
        {
            throw new CliException($"{option}: '{text}' is not a duration", "e.g. 90s, 5m, 1h");
        }

        return unit switch
        {
            's' => TimeSpan.FromSeconds(value),
            'm' => TimeSpan.FromMinutes(value),
            'h' => TimeSpan.FromHours(value),
            _ => throw new CliException($"{option}: '{text}' has an unknown unit '{unit}'", "use s, m or h, e.g. 90s, 5m"),
        };
    }
}
