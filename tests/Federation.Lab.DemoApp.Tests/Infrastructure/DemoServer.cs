using System.Diagnostics;
using System.Text;
using Federation.Etcd.Tests.Infrastructure;

namespace Federation.Lab.DemoApp.Tests.Infrastructure;

/// <summary>One <c>lab-demo-app serve</c> process on a free loopback port; killed on dispose.</summary>
internal sealed class DemoServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private DemoServer(Process process, Uri url)
    {
        _process = process;
        Url = url;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri Url { get; }

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<DemoServer> StartAsync(string role, string cluster, string pod, string? version = null, Uri? upstream = null, string address = "127.0.0.1")
    {
        var port = LoopbackPorts.Pick(1)[0];
        List<string> args = ["serve", "--role", role, "--listen", $"{address}:{port}", "--cluster", cluster, "--pod", pod];
        if (version is not null)
        {
            args.AddRange(["--version", version]);
        }

        if (upstream is not null)
        {
            args.AddRange(["--upstream", upstream.ToString()]);
        }

        var server = new DemoServer(Process.Start(DemoAppProcess.StartInfo(args))!, new Uri($"http://{address}:{port}/"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            await Eventually.TrueAsync(
                async () =>
                {
                    if (server.HasExited)
                    {
                        throw new InvalidOperationException($"{role} exited: {server.Output}");
                    }

                    try
                    {
                        return (await http.GetAsync(new Uri(server.Url, "healthz"))).IsSuccessStatusCode;
                    }
                    catch (HttpRequestException)
                    {
                        return false;
                    }
                    catch (TaskCanceledException)
                    {
                        // A busy machine: the server is still starting.
                        return false;
                    }
                },
                TimeSpan.FromSeconds(30),
                $"{role} answering /healthz");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>SIGKILL, as a crashed pod.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
