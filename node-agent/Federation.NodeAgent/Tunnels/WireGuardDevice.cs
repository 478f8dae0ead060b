using System.Globalization;
using System.Text.Json;
using Federation.NodeAgent.Processes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.NodeAgent.Tunnels;

/// <summary>Which WireGuard implementation serves the interface.</summary>
internal enum WireGuardImplementation
{
    /// <summary>The kernel module (<c>ip link add type wireguard</c>).</summary>
    Kernel,

    /// <summary>wireguard-go: a TUN interface served by a userspace process, configured through its UAPI socket.</summary>
    Userspace,
}

/// <summary>What <see cref="WireGuardDevice.EnsureAsync"/> found or made.</summary>
internal sealed record WireGuardDeviceStatus(
    string InterfaceName, string? NetworkNamespace, WireGuardImplementation Implementation, bool Reused, int ListenPort, int Mtu, string PublicKey);

/// <summary>
/// The node's one WireGuard interface, inside the node's network namespace: the kernel module where it exists,
/// wireguard-go elsewhere (same interface, same <c>wg</c> configuration). Survives the agent's restarts:
/// <see cref="EnsureAsync"/> adopts an interface that already exists.
/// </summary>
internal sealed partial class WireGuardDevice
{
    /// <summary>Where wireguard-go puts its UAPI sockets (host-wide, whatever the network namespace).</summary>
    public const string UapiDirectory = "/var/run/wireguard";

    private readonly ILogger _logger;

    public WireGuardDevice(WireGuardDeviceOptions options, ILogger<WireGuardDevice>? logger = null)
    {
        Options = options;
        _logger = logger ?? NullLogger<WireGuardDevice>.Instance;
    }

    public WireGuardDeviceOptions Options { get; }

    public string InterfaceName => Options.InterfaceName;

    /// <summary>Known after <see cref="EnsureAsync"/>.</summary>
    public WireGuardDeviceStatus? Status { get; private set; }

    private ProcessRunOptions InNamespace => new() { NetworkNamespace = Options.NetworkNamespace, Timeout = TimeSpan.FromSeconds(15) };

    private string NamespaceName => Options.NetworkNamespace ?? "(agent's own)";

    /// <summary>
    /// Creates the interface (or adopts the existing one), sets the private key and listen port, sets the MTU to
    /// underlay MTU − 80 and brings it up. Peers already configured are left alone (the peer reconciler owns them).
    /// </summary>
    public async Task<WireGuardDeviceStatus> EnsureAsync(WireGuardKeys keys, CancellationToken cancellationToken = default)
    {
        var name = Options.InterfaceName;
        var existing = await LinkKindAsync(cancellationToken).ConfigureAwait(false);
        WireGuardImplementation implementation;
        var reused = existing is not null;
        if (existing is { } kind)
        {
            implementation = kind switch
            {
                "wireguard" => WireGuardImplementation.Kernel,
                "tun" => WireGuardImplementation.Userspace,
                _ => throw new InvalidOperationException($"{name} in namespace {NamespaceName} exists but is a {kind} interface, not WireGuard"),
            };
        }
        else
        {
            implementation = await CreateAsync(cancellationToken).ConfigureAwait(false);
        }

        await RunWgAsync(["set", name, "listen-port", Options.ListenPort.ToString(CultureInfo.InvariantCulture), "private-key", keys.PrivateKeyPath], cancellationToken).ConfigureAwait(false);
        var mtu = await UnderlayMtuAsync(cancellationToken).ConfigureAwait(false) - WireGuardDeviceOptions.Overhead;
        await RunIpAsync(["link", "set", "dev", name, "mtu", mtu.ToString(CultureInfo.InvariantCulture), "up"], cancellationToken).ConfigureAwait(false);

        var label = Describe(implementation);
        if (reused)
        {
            Log.Reused(_logger, name, label, NamespaceName, Options.ListenPort, mtu);
        }
        else
        {
            Log.Created(_logger, name, label, NamespaceName, Options.ListenPort, mtu, keys.PublicKey);
        }

        Status = new WireGuardDeviceStatus(name, Options.NetworkNamespace, implementation, reused, Options.ListenPort, mtu, keys.PublicKey);
        return Status;
    }

    /// <summary>Deletes the interface; with wireguard-go, waits for its process to exit (killing it if it does not).</summary>
    public async Task RemoveAsync(CancellationToken cancellationToken = default)
    {
        var name = Options.InterfaceName;
        var daemons = await FindWireGuardGoAsync(cancellationToken).ConfigureAwait(false);
        var deleted = await ProcessRunner.RunAsync(Options.IpPath, ["link", "del", "dev", name], InNamespace, cancellationToken).ConfigureAwait(false);
        if (!deleted.Succeeded && await LinkKindAsync(cancellationToken).ConfigureAwait(false) is not null)
        {
            deleted.EnsureSuccess();
        }

        // wireguard-go exits when its TUN goes away; give it a moment, then make sure.
        foreach (var pid in daemons)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(3);
            while (Directory.Exists($"/proc/{pid}") && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }

            if (Directory.Exists($"/proc/{pid}"))
            {
                KillProcess(pid);
                Log.Killed(_logger, name, pid);
            }
        }

        File.Delete(Path.Combine(UapiDirectory, name + ".sock"));
        Status = null;
        Log.Removed(_logger, name, NamespaceName);
    }

    /// <summary>The interface's peers and counters (<c>wg show &lt;if&gt; dump</c>).</summary>
    public async Task<WireGuardDump> DumpAsync(CancellationToken cancellationToken = default)
        => WireGuardDump.Parse((await RunWgAsync(["show", Options.InterfaceName, "dump"], cancellationToken).ConfigureAwait(false)).StandardOutput);

    internal Task<ProcessResult> RunWgAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
        => ProcessRunner.RunCheckedAsync(Options.WgPath, arguments, InNamespace, cancellationToken);

    internal Task<ProcessResult> RunIpAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
        => ProcessRunner.RunCheckedAsync(Options.IpPath, arguments, InNamespace, cancellationToken);

    internal Task<ProcessResult> TryIpAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
        => ProcessRunner.RunAsync(Options.IpPath, arguments, InNamespace, cancellationToken);

    private static string Describe(WireGuardImplementation implementation)
        => implementation == WireGuardImplementation.Kernel ? "kernel WireGuard" : "wireguard-go (userspace)";

    private async Task<WireGuardImplementation> CreateAsync(CancellationToken cancellationToken)
    {
        var name = Options.InterfaceName;
        if (Options.UseKernelModule)
        {
            var kernel = await TryIpAsync(["link", "add", "dev", name, "type", "wireguard"], cancellationToken).ConfigureAwait(false);
            if (kernel.Succeeded)
            {
                return WireGuardImplementation.Kernel;
            }

            Log.NoKernelModule(_logger, name, kernel.StandardError.Trim());
        }
        else
        {
            Log.NoKernelModule(_logger, name, "disabled by UseKernelModule=false");
        }

        // wireguard-go daemonizes: it returns once the TUN and the UAPI socket exist, the daemon keeps running
        // (and so survives the agent's restarts) until the interface is deleted.
        var socket = Path.Combine(UapiDirectory, name + ".sock");
        if (File.Exists(socket) && (await FindWireGuardGoAsync(cancellationToken, anyNamespace: true).ConfigureAwait(false)).Count > 0)
        {
            throw new InvalidOperationException(
                $"{socket} belongs to a wireguard-go of another network namespace; WireGuard interface names must be unique on the host when wireguard-go is used");
        }

        await ProcessRunner.RunCheckedAsync(Options.WireGuardGoPath, [name], InNamespace, cancellationToken).ConfigureAwait(false);
        return WireGuardImplementation.Userspace;
    }

    /// <summary>"wireguard", "tun", another kind, or null when the interface does not exist.</summary>
    private async Task<string?> LinkKindAsync(CancellationToken cancellationToken)
    {
        var result = await TryIpAsync(["-d", "-j", "link", "show", "dev", Options.InterfaceName], cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return null;
        }

        using var document = JsonDocument.Parse(result.StandardOutput);
        foreach (var link in document.RootElement.EnumerateArray())
        {
            return link.TryGetProperty("linkinfo", out var info) && info.TryGetProperty("info_kind", out var kind) ? kind.GetString() ?? "unknown" : "unknown";
        }

        return null;
    }

    private async Task<int> UnderlayMtuAsync(CancellationToken cancellationToken)
    {
        if (Options.UnderlayMtu is { } mtu)
        {
            return mtu;
        }

        if (Options.UnderlayInterface is not { } underlay)
        {
            Log.DefaultMtu(_logger, Options.InterfaceName);
            return 1500;
        }

        var result = await RunIpAsync(["-j", "link", "show", "dev", underlay], cancellationToken).ConfigureAwait(false);
        using var document = JsonDocument.Parse(result.StandardOutput);
        return document.RootElement[0].GetProperty("mtu").GetInt32();
    }

    /// <summary>The pids of wireguard-go processes serving this interface name (in this namespace unless <paramref name="anyNamespace"/>).</summary>
    private async Task<IReadOnlyList<int>> FindWireGuardGoAsync(CancellationToken cancellationToken, bool anyNamespace = false)
    {
        var pids = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            string[] argv;
            try
            {
                argv = (await File.ReadAllTextAsync(Path.Combine(directory, "cmdline"), cancellationToken).ConfigureAwait(false)).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            if (argv.Length < 2 || Path.GetFileName(argv[0]) != "wireguard-go" || argv[^1] != Options.InterfaceName)
            {
                continue;
            }

            if (anyNamespace || await InThisNamespaceAsync(pid, cancellationToken).ConfigureAwait(false))
            {
                pids.Add(pid);
            }
        }

        return pids;
    }

    private async Task<bool> InThisNamespaceAsync(int pid, CancellationToken cancellationToken)
    {
        if (Options.NetworkNamespace is { } netns)
        {
            var identify = await ProcessRunner.RunAsync(Options.IpPath, ["netns", "identify", pid.ToString(CultureInfo.InvariantCulture)], cancellationToken: cancellationToken).ConfigureAwait(false);
            return identify.StandardOutput.Split('\n', StringSplitOptions.TrimEntries).Contains(netns);
        }

        try
        {
            return new FileInfo($"/proc/{pid}/ns/net").LinkTarget == new FileInfo("/proc/self/ns/net").LinkTarget;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void KillProcess(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            process.Kill();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // Gone meanwhile.
        }
    }
}
