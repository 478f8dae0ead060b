using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace Federation.Etcd.Tests.Infrastructure;

/// <summary>
/// A real single-member etcd process on free loopback ports with its own temp data directory,
/// for tests. Dispose it to kill the process and delete everything it wrote.
/// </summary>
public sealed class EtcdServer : IAsyncDisposable
{
    private const int LogLines = 200;
    private const int StartAttempts = 3;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan EtcdctlTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    private static readonly HttpClient HealthClient = new(new SocketsHttpHandler { UseProxy = false })
    {
        Timeout = TimeSpan.FromSeconds(2),
    };

    private readonly EtcdServerOptions _options;
    private readonly string _name;
    private readonly string _serverDirectory;
    private readonly BoundedLog _log = new(LogLines);
    private readonly Lock _gate = new();
    private (string CertFile, string KeyFile)? _rootClient;
    private int _clientPort;
    private int _peerPort;
    private int _metricsPort;
    private Process? _process;
    private int _disposed;

    private EtcdServer(EtcdServerOptions options)
    {
        _options = options;
        _name = "etcd-" + Guid.NewGuid().ToString("N")[..12];
        _serverDirectory = Path.Combine(EtcdProcessJanitor.RootDirectory, _name);
        DataDirectory = Path.Combine(_serverDirectory, "data");
    }

    /// <summary>The client URL: http://127.0.0.1:PORT, or https:// in TLS mode.</summary>
    public IReadOnlyList<Uri> ClientEndpoints { get; private set; } = [];

    /// <summary>etcd's --data-dir; kept across <see cref="StopAsync"/>/<see cref="StartAgainAsync"/>.</summary>
    public string DataDirectory { get; }

    /// <summary>The CA, server and client certificates in TLS mode; null in plaintext mode.</summary>
    public TestCertificates? Certificates { get; private set; }

    /// <summary>The plaintext URL serving /health and /metrics, whatever the client transport.</summary>
    public Uri MetricsEndpoint => new($"http://127.0.0.1:{_metricsPort}");

    /// <summary>The etcd process id while it runs.</summary>
    public int? ProcessId
    {
        get
        {
            lock (_gate)
            {
                return _process?.Id;
            }
        }
    }

    /// <summary>The last lines etcd wrote to stdout and stderr, across restarts.</summary>
    public string LogTail => _log.ToString();

    /// <summary>Starts etcd and returns once its /health endpoint reports healthy.</summary>
    public static async Task<EtcdServer> StartAsync(
        EtcdServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        var server = new EtcdServer(options ?? new EtcdServerOptions());
        EtcdProcessJanitor.Register(server);
        try
        {
            Directory.CreateDirectory(server._serverDirectory);
            EtcdProcessJanitor.WriteOwnerFile(server._serverDirectory, etcdPid: null);
            if (server._options.Tls)
            {
                server.Certificates = TestCertificates.Create(Path.Combine(server._serverDirectory, "certs"));
                var root = server.Certificates.CreateClient("root");
                server._rootClient = (root.CertFile, root.KeyFile);
            }

            await server.StartOnFreePortsAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Stops the process with SIGTERM (SIGKILL when <paramref name="kill"/>) and waits for it to
    /// exit; the data directory and ports are kept for <see cref="StartAgainAsync"/>.
    /// </summary>
    public async Task StopAsync(bool kill = false)
    {
        Process? process;
        lock (_gate)
        {
            process = _process;
            _process = null;
        }

        if (process is null)
        {
            return;
        }

        try
        {
            if (!kill)
            {
                PosixSignal.Send(process.Id, PosixSignal.Term);
                if (await WaitForExitAsync(process, StopTimeout).ConfigureAwait(false))
                {
                    return;
                }

                _log.Add($"[fixture] etcd did not exit within {StopTimeout.TotalSeconds} s of SIGTERM; sending SIGKILL");
            }

            KillProcess(process);
            if (!await WaitForExitAsync(process, StopTimeout).ConfigureAwait(false))
            {
                throw new TimeoutException(
                    $"etcd (pid {process.Id}) did not exit within {StopTimeout.TotalSeconds} s of SIGKILL.");
            }
        }
        finally
        {
            process.Dispose();
            TryWriteOwnerFile(etcdPid: null);
        }
    }

    /// <summary>Starts etcd again on the same ports and data directory and waits until it is healthy.</summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_gate)
        {
            if (_process is not null)
            {
                throw new InvalidOperationException("etcd is still running; call StopAsync first.");
            }
        }

        var process = Launch();
        try
        {
            await WaitUntilReadyAsync(process, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await StopAsync(kill: true).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Runs etcdctl (API v3) against this server, with the root client certificate in TLS mode,
    /// and returns its stdout. Throws with etcdctl's stderr when it exits non-zero.
    /// </summary>
    public Task<string> EtcdctlAsync(params string[] args) => EtcdctlAsync(args, CancellationToken.None);

    /// <inheritdoc cref="EtcdctlAsync(string[])"/>
    public async Task<string> EtcdctlAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var startInfo = NewStartInfo(Environment.GetEnvironmentVariable("FEDERATION_ETCDCTL") ?? "etcdctl");
        startInfo.RedirectStandardInput = true;
        startInfo.Environment["ETCDCTL_API"] = "3";
        startInfo.ArgumentList.Add("--endpoints=" + string.Join(',', ClientEndpoints.Select(e => e.GetLeftPart(UriPartial.Authority))));
        startInfo.ArgumentList.Add("--dial-timeout=5s");
        if (Certificates is not null && _rootClient is { } root)
        {
            startInfo.ArgumentList.Add("--cacert=" + Certificates.CaFile);
            startInfo.ArgumentList.Add("--cert=" + root.CertFile);
            startInfo.ArgumentList.Add("--key=" + root.KeyFile);
        }

        foreach (var arg in args)
        {
            startInfo.ArgumentList.Add(arg);
        }

        using var process = StartProcess(startInfo, "etcdctl", "etcd-client");
        process.StandardInput.Close();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(EtcdctlTimeout);
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            await Task.WhenAll(stdout, stderr).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            KillProcess(process);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException(
                $"etcdctl {string.Join(' ', args)} did not finish within {EtcdctlTimeout.TotalSeconds} s.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"etcdctl {string.Join(' ', args)} exited with {process.ExitCode}: {(await stderr.ConfigureAwait(false)).Trim()}");
        }

        return await stdout.ConfigureAwait(false);
    }

    /// <summary>Kills etcd, waits for it, and deletes the data directory and certificate files.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await StopAsync(kill: true).ConfigureAwait(false);
        }
        finally
        {
            EtcdProcessJanitor.Unregister(this);
            Certificates?.Dispose();
            if (Directory.Exists(_serverDirectory))
            {
                Directory.Delete(_serverDirectory, recursive: true);
            }
        }
    }

    /// <summary>Called at process exit for servers a test forgot to dispose (or could not, after a crash).</summary>
    internal void KillAndDeleteAtProcessExit()
    {
        Process? process;
        lock (_gate)
        {
            process = _process;
            _process = null;
        }

        try
        {
            if (process is not null)
            {
                KillProcess(process);
                process.WaitForExit(TimeSpan.FromSeconds(5));
            }

            Directory.Delete(_serverDirectory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            // The process is exiting; whatever is left is removed by the next run (EtcdProcessJanitor).
        }
    }

    private static ProcessStartInfo NewStartInfo(string fileName)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };

        // Hermetic: no ETCD_*/ETCDCTL_* settings or proxies from the developer's environment.
        foreach (var key in startInfo.Environment.Keys.ToList())
        {
            if (key.StartsWith("ETCD", StringComparison.Ordinal)
                || key.EndsWith("_proxy", StringComparison.OrdinalIgnoreCase))
            {
                startInfo.Environment.Remove(key);
            }
        }

        return startInfo;
    }

    private static Process StartProcess(ProcessStartInfo startInfo, string what, string debianPackage)
    {
        try
        {
            return Process.Start(startInfo)
                ?? throw new InvalidOperationException($"Could not start {startInfo.FileName}.");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"Could not run {what} ('{startInfo.FileName}': {e.Message}). Install it with eng/install-deps.sh "
                + $"(Debian package {debianPackage}) or point FEDERATION_{what.ToUpperInvariant()} at the binary.",
                e);
        }
    }

    private static void KillProcess(Process process)
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

    private static async Task<bool> WaitForExitAsync(Process process, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            // Also waits for the end of stdout/stderr, so the log is complete afterwards.
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task StartOnFreePortsAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var ports = LoopbackPorts.Pick(3);
            (_clientPort, _peerPort, _metricsPort) = (ports[0], ports[1], ports[2]);
            var scheme = _options.Tls ? "https" : "http";
            ClientEndpoints = [new Uri($"{scheme}://127.0.0.1:{_clientPort}")];

            var process = Launch();
            try
            {
                await WaitUntilReadyAsync(process, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (EtcdExitedException) when (attempt < StartAttempts && LogTail.Contains("address already in use", StringComparison.Ordinal))
            {
                // Another process took one of the ports between picking and binding: pick again.
                await StopAsync(kill: true).ConfigureAwait(false);
                if (Directory.Exists(DataDirectory))
                {
                    Directory.Delete(DataDirectory, recursive: true);
                }

                _log.Add($"[fixture] port conflict; retrying on new ports (attempt {attempt + 1} of {StartAttempts})");
            }
            catch
            {
                await StopAsync(kill: true).ConfigureAwait(false);
                throw;
            }
        }
    }

    private Process Launch()
    {
        var startInfo = NewStartInfo(Environment.GetEnvironmentVariable("FEDERATION_ETCD") ?? "etcd");
        foreach (var arg in BuildArguments())
        {
            startInfo.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in _options.Environment)
        {
            startInfo.Environment[name] = value;
        }

        _log.Add($"[fixture] starting {startInfo.FileName} {string.Join(' ', startInfo.ArgumentList)}");
        var process = StartProcess(startInfo, "etcd", "etcd-server");
        process.OutputDataReceived += (_, e) => _log.Add(e.Data);
        process.ErrorDataReceived += (_, e) => _log.Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_gate)
        {
            _process = process;
        }

        TryWriteOwnerFile(process.Id);
        return process;
    }

    private List<string> BuildArguments()
    {
        var peerUrl = $"http://127.0.0.1:{_peerPort}";
        var clientUrl = ClientEndpoints[0].GetLeftPart(UriPartial.Authority);
        var args = new List<string>
        {
            "--name=" + _name,
            "--data-dir=" + DataDirectory,
            "--listen-client-urls=" + clientUrl,
            "--advertise-client-urls=" + clientUrl,
            "--listen-peer-urls=" + peerUrl,
            "--initial-advertise-peer-urls=" + peerUrl,
            $"--initial-cluster={_name}={peerUrl}",
            "--initial-cluster-token=" + _name,
            "--initial-cluster-state=new",
            $"--listen-metrics-urls=http://127.0.0.1:{_metricsPort}",
        };

        if (Certificates is not null)
        {
            args.Add("--cert-file=" + Certificates.ServerCertFile);
            args.Add("--key-file=" + Certificates.ServerKeyFile);
            args.Add("--client-cert-auth");
            args.Add("--trusted-ca-file=" + Certificates.CaFile);
        }

        if (_options.AutoCompactionRetentionHours is { } hours)
        {
            args.Add("--auto-compaction-mode=periodic");
            args.Add($"--auto-compaction-retention={hours.ToString(CultureInfo.InvariantCulture)}h");
        }

        args.AddRange(_options.ExtraArguments);
        return args;
    }

    private async Task WaitUntilReadyAsync(Process process, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.ReadyTimeout);
        var exited = process.WaitForExitAsync(deadline.Token);
        var health = new Uri(MetricsEndpoint, "/health");
        var stopwatch = Stopwatch.StartNew();

        while (true)
        {
            if (process.HasExited)
            {
                await WaitForExitAsync(process, TimeSpan.FromSeconds(5)).ConfigureAwait(false); // drain the log
                throw new EtcdExitedException(
                    $"etcd exited with code {process.ExitCode} before becoming healthy.\n--- etcd log tail ---\n{LogTail}");
            }

            if (await IsHealthyAsync(health, deadline.Token).ConfigureAwait(false))
            {
                _log.Add($"[fixture] healthy after {stopwatch.ElapsedMilliseconds} ms");
                return;
            }

            if (deadline.IsCancellationRequested)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw new TimeoutException(
                    $"etcd did not report healthy at {health} within {_options.ReadyTimeout.TotalSeconds} s."
                    + $"\n--- etcd log tail ---\n{LogTail}");
            }

            // Next poll after a short interval, or at once when the process exits.
            await Task.WhenAny(exited, Task.Delay(PollInterval, deadline.Token)).ConfigureAwait(false);
        }
    }

    private static async Task<bool> IsHealthyAsync(Uri health, CancellationToken cancellationToken)
    {
        try
        {
            var body = await HealthClient.GetStringAsync(health, cancellationToken).ConfigureAwait(false);
            return body.Replace(" ", string.Empty, StringComparison.Ordinal)
                .Contains("\"health\":\"true\"", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            return false; // not listening yet, or the deadline passed (the caller checks which)
        }
    }

    private void TryWriteOwnerFile(int? etcdPid)
    {
        try
        {
            EtcdProcessJanitor.WriteOwnerFile(_serverDirectory, etcdPid);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Add($"[fixture] could not write the owner file: {e.Message}");
        }
    }

    private sealed class EtcdExitedException(string message) : InvalidOperationException(message);
}
