using System.Diagnostics;
using Federation.Etcd;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Lab.ApiServer.Hosting;
using Federation.Lab.Tests.Infrastructure;

namespace Federation.Lab.Tests.Hosting;

/// <summary>The real Federation.Lab.ApiServer executable, started as a process.</summary>
[Collection(LabCollection.Name)]
public sealed class ExecutableTests(LabApiServerFixture lab)
{
    private static readonly string Assembly = typeof(LabApiServerHost).Assembly.Location;

    [Fact]
    public async Task Bad_flags_exit_with_code_2_and_name_the_flag()
    {
        var (exitCode, stderr) = await RunToExitAsync(["--etcd-endpoints", "http://127.0.0.1:1", "--service-cluster-ip-range", "10.0.0.0/24"]);

        Assert.Equal(2, exitCode);
        Assert.Contains("--service-cluster-ip-range: '10.0.0.0/24' is not inside 127.96.0.0/16", stderr, StringComparison.Ordinal);
        Assert.Contains("--tls-cert-file: required", stderr, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Needs", "etcd")]
    public async Task The_executable_serves_the_api_until_sigterm()
    {
        var port = LoopbackPorts.Pick(1)[0];
        using var process = Start(
        [
            "--etcd-endpoints", lab.Etcd.ClientEndpoints[0].ToString(),
            "--etcd-prefix", "/exe-test",
            "--listen", $"127.0.0.1:{port}",
            "--tls-cert-file", lab.Pki.ServerCertFile,
            "--tls-private-key-file", lab.Pki.ServerKeyFile,
            "--client-ca-file", lab.Pki.CaFile,
            "--service-cluster-ip-range", "127.96.9.0/24",
            "--cluster-name", "exe",
        ]);
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            using var http = lab.CreateClient(lab.Pki.Admin, new Uri($"https://127.0.0.1:{port}/"));
            await Eventually.TrueAsync(
                async () =>
                {
                    try
                    {
                        return (await http.GetAsync("readyz")).IsSuccessStatusCode;
                    }
                    catch (HttpRequestException)
                    {
                        Assert.False(process.HasExited, "the server exited: " + (process.HasExited ? await stderr : ""));
                        return false;
                    }
                },
                TimeSpan.FromSeconds(30),
                "the executable to answer /readyz");

            var namespaces = await http.GetJsonAsync("api/v1/namespaces");
            Assert.Contains(namespaces.Object["items"]!.AsArray(), n => n!["metadata"]!["name"]!.ToString() == "default");
            Assert.NotNull(await lab.EtcdClient.GetAsync("/exe-test/core/namespaces/default"));

            Assert.True(PosixSignal.Send(process.Id, PosixSignal.Term));
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await process.WaitForExitAsync(exit.Token);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
    }

    private static Process Start(IReadOnlyList<string> args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(Assembly);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the API server");
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }

    private static async Task<(int ExitCode, string Stderr)> RunToExitAsync(IReadOnlyList<string> args)
    {
        using var process = Start(args);
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return (process.ExitCode, await stderr);
    }
}
