using System.Diagnostics;
using System.Globalization;
using System.Text;
using Federation.NodeAgent.Processes;
using Federation.NodeAgent.Tunnels;

namespace Federation.NodeAgent.Tests.Tunnels;

/// <summary>
/// A throwaway underlay for WireGuard: a namespace <c>fedwg-PID-ID-underlay</c> with a bridge, and node namespaces
/// each with a veth to the bridge (192.168.77.N/24), the node's pod address on its loopback, and a
/// WireGuard device with its peer reconciler. Nothing is put on the host's interfaces. Disposal deletes every
/// interface, process and namespace it made, also after a failed test. (No xunit here: the benchmark links it.)
/// </summary>
internal sealed class WireGuardLab : IAsyncDisposable
{
    private const string Prefix = "fedwg-";
    private readonly List<LabNode> _nodes = [];
    private readonly List<LabProcess> _processes = [];
    private readonly string _stateRoot;

    private WireGuardLab(string id)
    {
        Id = id;
        Underlay = $"{Prefix}{Environment.ProcessId}-{id}-underlay";
        _stateRoot = Path.Combine(Path.GetTempPath(), $"{Prefix}{Environment.ProcessId}-{id}");
    }

    public string Id { get; }

    public string Underlay { get; }

    public IReadOnlyList<LabNode> Nodes => _nodes;

    public static async Task<WireGuardLab> CreateAsync()
    {
        await RemoveLeftoversAsync();
        var lab = new WireGuardLab(Guid.NewGuid().ToString("N")[..6]);
        try
        {
            await Ip("netns", "add", lab.Underlay);
            await Ip("-n", lab.Underlay, "link", "set", "lo", "up");
            await Ip("-n", lab.Underlay, "link", "add", "br0", "type", "bridge");
            await Ip("-n", lab.Underlay, "link", "set", "br0", "up");
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }

        return lab;
    }

    /// <summary>A node: namespace, underlay address 192.168.77.<paramref name="index"/>, pod address <paramref name="podIP"/> in
    /// <paramref name="podCidr"/>, and a running WireGuard device (wireguard-go here) with its reconciler, unless
    /// <paramref name="startWireGuard"/> is false (a node agent under test brings its own).</summary>
    public async Task<LabNode> AddNodeAsync(string name, string cluster, int index, string podCidr, string podIP, bool startWireGuard = true)
    {
        var netns = $"{Prefix}{Environment.ProcessId}-{Id}-{name}";
        var node = new LabNode(this, name, cluster, netns, $"192.168.77.{index}", podCidr, podIP, Path.Combine(_stateRoot, name));
        _nodes.Add(node);
        var port = $"v{Id[..4]}{index}";
        await Ip("netns", "add", netns);
        await Ip("-n", netns, "link", "set", "lo", "up");
        await Ip("-n", netns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", Underlay);
        await Ip("-n", Underlay, "link", "set", port, "master", "br0", "up");
        await Ip("-n", netns, "addr", "add", $"{node.UnderlayIP}/24", "dev", "eth0");
        await Ip("-n", netns, "link", "set", "eth0", "up");

        // This kernel has no dummy interfaces: the node's pod address lives on its loopback.
        await Ip("-n", netns, "addr", "add", $"{podIP}/32", "dev", "lo");
        node.UnderlayPort = port;
        if (startWireGuard)
        {
            await node.StartWireGuardAsync();
        }

        return node;
    }

    /// <summary>Starts a long-running command in <paramref name="netns"/> and waits for <paramref name="readyMarker"/> on its stdout.</summary>
    public async Task<LabProcess> StartAsync(string netns, string readyMarker, string fileName, params string[] arguments)
    {
        var process = LabProcess.Start(netns, fileName, arguments);
        _processes.Add(process);
        await process.WaitForLineAsync(readyMarker, TimeSpan.FromSeconds(20));
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        foreach (var node in _nodes)
        {
            node.Reconciler?.Dispose();
            if (node.Device is { } device)
            {
                try
                {
                    await device.RemoveAsync();
                }
                catch (Exception e) when (e is ProcessFailedException or TimeoutException or InvalidOperationException)
                {
                    // The namespace deletion below still takes the interface; its daemon is killed there.
                }
            }
        }

        foreach (var netns in _nodes.Select(n => n.Netns).Append(Underlay))
        {
            await DeleteNamespaceAsync(netns);
        }

        if (Directory.Exists(_stateRoot))
        {
            Directory.Delete(_stateRoot, recursive: true);
        }
    }

    internal static Task<ProcessResult> Ip(params string[] arguments) => ProcessRunner.RunCheckedAsync("ip", arguments);

    /// <summary>Namespaces of earlier runs of this test host that died before their cleanup (their pid is gone).</summary>
    private static async Task RemoveLeftoversAsync()
    {
        if (!Directory.Exists(ProcessRunner.NetnsDirectory))
        {
            return;
        }

        foreach (var netns in Directory.EnumerateFiles(ProcessRunner.NetnsDirectory).Select(Path.GetFileName).OfType<string>())
        {
            var parts = netns.Split('-');
            if (netns.StartsWith(Prefix, StringComparison.Ordinal) && parts.Length > 2
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && !Directory.Exists($"/proc/{pid}"))
            {
                await DeleteNamespaceAsync(netns);
            }
        }
    }

    /// <summary>Kills what still runs in the namespace (wireguard-go, iperf3: all started by this lab), then deletes it.</summary>
    private static async Task DeleteNamespaceAsync(string netns)
    {
        if (!File.Exists(Path.Combine(ProcessRunner.NetnsDirectory, netns)))
        {
            return;
        }

        var pids = await ProcessRunner.RunAsync("ip", ["netns", "pids", netns]);
        foreach (var line in pids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill();
                    process.WaitForExit(5000);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    // Already gone.
                }
            }
        }

        await ProcessRunner.RunAsync("ip", ["netns", "del", netns]);
    }
}

/// <summary>One lab node: its namespace, addresses, keys, WireGuard device and peer reconciler.</summary>
internal sealed class LabNode(WireGuardLab lab, string name, string cluster, string netns, string underlayIP, string podCidr, string podIP, string stateDirectory)
{
    private int _keyGeneration;

    public string Name { get; } = name;

    public string Cluster { get; } = cluster;

    public string Netns { get; } = netns;

    public string UnderlayIP { get; } = underlayIP;

    public string PodCidr { get; } = podCidr;

    public string PodIP { get; } = podIP;

    /// <summary>The underlay namespace's end of this node's veth.</summary>
    public string UnderlayPort { get; set; } = "";

    public WireGuardKeys Keys { get; private set; } = null!;

    /// <summary>Null when the node was added without the lab's own WireGuard.</summary>
    public WireGuardDevice Device { get; private set; } = null!;

    public WireGuardPeerReconciler Reconciler { get; private set; } = null!;

    public string InterfaceName => $"fw{lab.Id[..4]}{Name}";

    /// <summary>This node as a remote node record.</summary>
    public RemoteNodeTunnel AsRemote() => new() { Cluster = Cluster, Node = Name, PublicKey = Keys.PublicKey, EndpointIP = UnderlayIP, PodCidrs = [PodCidr] };

    public async Task StartWireGuardAsync()
    {
        Keys = await WireGuardKeys.LoadOrCreateAsync(Path.Combine(stateDirectory, "0"));
        Device = new WireGuardDevice(new WireGuardDeviceOptions { InterfaceName = InterfaceName, NetworkNamespace = Netns, UnderlayInterface = "eth0" });
        await Device.EnsureAsync(Keys);
        Reconciler = NewReconciler();
        await Reconciler.StartAsync();
    }

    /// <summary>A second reconciler over the same device, as after an agent restart.</summary>
    public WireGuardPeerReconciler NewReconciler()
        => new(Device, new WireGuardPeerReconcilerOptions { RouteSourceIPv4 = PodIP });

    public void ReplaceReconciler(WireGuardPeerReconciler reconciler)
    {
        Reconciler.Dispose();
        Reconciler = reconciler;
    }

    /// <summary>A new private key on this node's interface (its peers must learn the new public key).</summary>
    public async Task RotateKeyAsync()
    {
        Keys = await WireGuardKeys.LoadOrCreateAsync(Path.Combine(stateDirectory, (++_keyGeneration).ToString(CultureInfo.InvariantCulture)));
        await Device.EnsureAsync(Keys);
    }

    public Task<ProcessResult> RunAsync(string fileName, params string[] arguments)
        => ProcessRunner.RunAsync(fileName, arguments, new ProcessRunOptions { NetworkNamespace = Netns, Timeout = TimeSpan.FromSeconds(60) });

    /// <summary>One ping from this node's pod address, waiting at most a second for the reply.</summary>
    public async Task<bool> PingAsync(string ip) => (await RunAsync("ping", "-c", "1", "-W", "1", "-I", PodIP, ip)).Succeeded;

    public async Task<HashSet<string>> RoutesThroughTunnelAsync()
    {
        var result = await RunAsync("ip", "-4", "route", "show", "dev", InterfaceName);
        return [.. result.EnsureSuccess().StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0])];
    }
}

/// <summary>A background command inside a namespace (a server, a capture), stopped by closing its stdin or by a kill.</summary>
internal sealed class LabProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(string Marker, TaskCompletionSource<string> Seen)> _waiters = [];

    private LabProcess(Process process) => _process = process;

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

    public static LabProcess Start(string netns, string fileName, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo("nsenter") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { $"--net={ProcessRunner.NetnsDirectory}/{netns}", "--", fileName }.Concat(arguments))
        {
            info.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = info };
        var lab = new LabProcess(process);
        process.OutputDataReceived += (_, e) => lab.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => lab.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return lab;
    }

    public async Task<string> WaitForLineAsync(string marker, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            var existing = _output.ToString().Split('\n').FirstOrDefault(l => l.Contains(marker, StringComparison.Ordinal));
            if (existing is not null)
            {
                return existing;
            }

            _waiters.Add((marker, seen));
        }

        var exited = _process.WaitForExitAsync();
        var finished = await Task.WhenAny(seen.Task, exited, Task.Delay(timeout));
        if (finished != seen.Task)
        {
            throw new TimeoutException($"no line with \"{marker}\" from {_process.StartInfo.ArgumentList.Skip(2).FirstOrDefault()} "
                + (finished == exited ? "(it exited)" : $"within {timeout.TotalSeconds}s") + $"; output: {Output}");
        }

        return await seen.Task;
    }

    /// <summary>Closes stdin (the capture script prints its result and exits) and returns everything it printed.</summary>
    public async Task<string> StopAsync(TimeSpan timeout)
    {
        _process.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return Output;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
            foreach (var waiter in _waiters.Where(w => line.Contains(w.Marker, StringComparison.Ordinal)).ToList())
            {
                waiter.Seen.TrySetResult(line);
                _waiters.Remove(waiter);
            }
        }
    }
}
