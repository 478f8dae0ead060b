using System.Diagnostics;
using System.Text;

namespace Federation.KindConfigs.Tests.Support;

/// <summary>The result of running a command.</summary>
internal sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError)
{
    public string Describe(string command) => $"{command} exited {ExitCode}\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}";
}

/// <summary>Runs the real tools the checks need (kubectl, bash); a missing tool fails the test, it never skips it.</summary>
internal static class Tools
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>The full path of <paramref name="tool"/> on PATH; fails the test with what to install when it is missing.</summary>
    public static string Require(string tool, string why)
    {
        var path = Find(tool);
        Assert.True(path is not null, $"'{tool}' is not on PATH ({Environment.GetEnvironmentVariable("PATH")}); install it: {why}. This test does not skip without it.");
        return path!;
    }

    public static string? Find(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    public static async Task<CommandResult> RunAsync(
        string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Repo.Root,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish within {Timeout.TotalSeconds}s");
        }

        return new CommandResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Joins lines for messages.</summary>
    public static string Lines(IEnumerable<string> lines) => new StringBuilder().AppendJoin('\n', lines).ToString();
}
