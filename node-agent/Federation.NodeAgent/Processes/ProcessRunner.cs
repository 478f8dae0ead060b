using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Federation.NodeAgent.Processes;

/// <summary>How <see cref="ProcessRunner"/> runs one command.</summary>
internal sealed record ProcessRunOptions
{
    /// <summary>Run inside this named network namespace (<c>/var/run/netns/NAME</c>) through <c>nsenter --net=</c>,
    /// which, unlike <c>ip netns exec</c>, keeps the caller's mount namespace (bpffs, /sys).</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>Written to the command's standard input, which is then closed.</summary>
    public string? StandardInput { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Extra environment variables.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }
}

/// <summary>The outcome of a command that ran to its end.</summary>
internal sealed record ProcessResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>This result, or a <see cref="ProcessFailedException"/> naming the command, exit code and stderr.</summary>
    public ProcessResult EnsureSuccess() => Succeeded ? this : throw new ProcessFailedException(this);
}

/// <summary>A command exited with a non-zero code.</summary>
internal sealed class ProcessFailedException(ProcessResult result)
    : Exception($"`{result.CommandLine}` exited with {result.ExitCode}: {Describe(result)}")
{
    public ProcessResult Result { get; } = result;

    private static string Describe(ProcessResult result)
    {
        var text = result.StandardError.Trim();
        if (text.Length == 0)
        {
            text = result.StandardOutput.Trim();
        }

        return text.Length == 0 ? "(no output)" : text;
    }
}

/// <summary>Runs external commands (ip, wg, wireguard-go) with a timeout and captured output.</summary>
internal static class ProcessRunner
{
    /// <summary>The directory of named network namespaces (<c>ip netns add</c>).</summary>
    public const string NetnsDirectory = "/var/run/netns";

    /// <summary>Runs <paramref name="fileName"/> and returns how it ended. A non-zero exit is a result, not an exception;
    /// a timeout kills the process tree and throws <see cref="TimeoutException"/> naming the command line.</summary>
    public static async Task<ProcessResult> RunAsync(
        string fileName, IReadOnlyList<string> arguments, ProcessRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ProcessRunOptions();
        var (file, args) = options.NetworkNamespace is { } netns
            ? ("nsenter", (IReadOnlyList<string>)[$"--net={NetnsDirectory}/{netns}", "--", fileName, .. arguments])
            : (fileName, arguments);
        var commandLine = FormatCommandLine(file, args);

        var startInfo = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in args)
        {
            startInfo.ArgumentList.Add(arg);
        }

        if (options.Environment is { } environment)
        {
            foreach (var (name, value) in environment)
            {
                startInfo.Environment[name] = value;
            }
        }

        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"`{commandLine}` could not start: {e.Message}", e);
        }

        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        try
        {
            await WriteInputAsync(process, options.StandardInput, timeout.Token).ConfigureAwait(false);
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"`{commandLine}` did not finish within {options.Timeout.TotalSeconds:0.#}s and was killed");
        }

        return new ProcessResult(commandLine, process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>Runs the command and throws <see cref="ProcessFailedException"/> unless it exits with 0.</summary>
    public static async Task<ProcessResult> RunCheckedAsync(
        string fileName, IReadOnlyList<string> arguments, ProcessRunOptions? options = null, CancellationToken cancellationToken = default)
        => (await RunAsync(fileName, arguments, options, cancellationToken).ConfigureAwait(false)).EnsureSuccess();

    /// <summary>A shell-like rendering for messages (arguments with spaces or quotes are single-quoted).</summary>
    public static string FormatCommandLine(string fileName, IEnumerable<string> arguments)
        => string.Join(' ', new[] { fileName }.Concat(arguments).Select(Quote));

    private static string Quote(string arg)
        => arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,+@%".Contains(c))
            ? arg
            : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static async Task WriteInputAsync(Process process, string? input, CancellationToken cancellationToken)
    {
        try
        {
            if (input is not null)
            {
                await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken).ConfigureAwait(false);
            }

            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The command closed its stdin without reading it all; its exit code says the rest.
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }
}
