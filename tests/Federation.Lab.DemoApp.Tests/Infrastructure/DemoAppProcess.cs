using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace Federation.Lab.DemoApp.Tests.Infrastructure;

/// <summary>Runs the built <c>lab-demo-app.dll</c> as real processes (the way the lab starts pods).</summary>
internal static class DemoAppProcess
{
    private static readonly Lazy<string> Dll = new(FindDll);

    /// <summary>federation/Federation.Lab.DemoApp/bin/&lt;Configuration&gt;/net10.0/lab-demo-app.dll of this checkout.</summary>
    public static string DllPath => Dll.Value;

    public static ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(DllPath);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    /// <summary>Runs a command to its end: exit code, stdout, stderr.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        using var process = Process.Start(StartInfo(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    private static string FindDll()
    {
        var configuration = typeof(DemoAppProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Federation.sln")))
            {
                var dll = Path.Combine(dir.FullName, "federation", "Federation.Lab.DemoApp", "bin", configuration, "net10.0", "lab-demo-app.dll");
                return File.Exists(dll) ? dll : throw new FileNotFoundException($"lab-demo-app is not built ({configuration})", dll);
            }
        }

        throw new DirectoryNotFoundException($"no Federation.sln above {AppContext.BaseDirectory}");
    }
}
