using System.Diagnostics;
using System.Text;

namespace Federation.Lab.Tests.Infrastructure;

/// <summary>The real /usr/bin/kubectl with a private kubeconfig and cache directory.</summary>
public sealed class KubectlRunner
{
    public const string Path = "/usr/bin/kubectl";

    private readonly string _kubeconfig;
    private readonly string _cacheDirectory;

    public KubectlRunner(string kubeconfig, string cacheDirectory)
    {
        _kubeconfig = kubeconfig;
        _cacheDirectory = cacheDirectory;
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    /// <summary>Runs kubectl to completion (killed after the timeout), optionally feeding stdin.</summary>
    public async Task<Result> RunAsync(IReadOnlyList<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        using var process = Start(args, stdin is not null);
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"kubectl {string.Join(' ', args)} did not finish: {await stderr}");
        }

        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts a long-running kubectl (e.g. <c>get -w</c>); the caller reads its output and kills it.</summary>
    public Process Start(IReadOnlyList<string> args, bool redirectStdin = false)
    {
        var info = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add("--kubeconfig");
        info.ArgumentList.Add(_kubeconfig);
        info.ArgumentList.Add("--cache-dir");
        info.ArgumentList.Add(_cacheDirectory);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["HOME"] = _cacheDirectory;
        info.Environment.Remove("KUBECONFIG");
        return Process.Start(info) ?? throw new InvalidOperationException("kubectl did not start");
    }
}
