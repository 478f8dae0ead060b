using System.Globalization;
using System.Text;
using Federation.NodeAgent.Datapath;
using Federation.NodeAgent.Processes;
using Federation.NodeAgent.Sync;
using Federation.NodeAgent.Tunnels;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.NodeAgent.Hosting;

/// <summary>The one-shot modes of node-agent: <c>--dump</c> and <c>--uninstall</c>.</summary>
internal static class AgentCommands
{
    /// <summary>
    /// Prints the service names of the last apply and the maps as they are in the kernel, and with <c>--wireguard=true</c>
    /// the tunnel's peers as the interface has them; 1 when the node has no pins (or no WireGuard interface).
    /// </summary>
    public static async Task<int> DumpAsync(AgentOptions options, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var exitCode = DumpMaps(options, output, error);
        if (options.WireGuard)
        {
            exitCode = Math.Max(exitCode, await DumpTunnelAsync(options, output, error, cancellationToken).ConfigureAwait(false));
        }

        return exitCode;
    }

    /// <summary>The tunnel as <c>wg show dump</c> reads it: interface, listen port, and one row per peer.</summary>
    public static async Task<int> DumpTunnelAsync(AgentOptions options, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var device = new WireGuardDevice(TunnelService.DeviceOptions(options));
        WireGuardDump dump;
        try
        {
            dump = await device.DumpAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ProcessFailedException e)
        {
            error.WriteLine($"error: no WireGuard interface {options.WireGuardInterface} in namespace {options.WireGuardNetns ?? "(own)"}: {e.Message}");
            return 1;
        }

        var text = new StringBuilder();
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"WireGuard {options.WireGuardInterface} (namespace {options.WireGuardNetns ?? "(own)"}): public key {dump.PublicKey}, listen port {dump.ListenPort}");
        text.AppendLine(CultureInfo.InvariantCulture, $"{"PEER",-45} {"ENDPOINT",-22} {"ALLOWED IPS",-32} {"HANDSHAKE",-26} {"RX",12} {"TX",12}");
        foreach (var peer in dump.Peers)
        {
            var handshake = peer.LatestHandshake?.ToString("O", CultureInfo.InvariantCulture) ?? "never";
            text.AppendLine(CultureInfo.InvariantCulture, $"{peer.PublicKey,-45} {peer.Endpoint ?? "(none)",-22} {string.Join(',', peer.AllowedIps),-32} {handshake,-26} {peer.ReceivedBytes,12} {peer.TransmittedBytes,12}");
        }

        output.Write(text.ToString());
        return 0;
    }

    private static int DumpMaps(AgentOptions options, TextWriter output, TextWriter error)
    {
        if (!LbMapNames.All.All(name => File.Exists(Path.Combine(options.PinDirectory, name))))
        {
            error.WriteLine($"error: no datapath pinned under {options.PinDirectory} (--node-name, --bpffs-root)");
            return 1;
        }

        using var maps = LbMaps.Open(options.PinDirectory);
        var rows = new ServiceMapWriter(maps, NullLogger<ServiceMapWriter>.Instance).Dump();
        var names = StateFile.Read(options.StateDirectory, options.NodeName);
        var text = new StringBuilder();
        var frontends = rows.Select(r => r.Service).Distinct().ToList();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"FRONTEND",-26} NAME");
        foreach (var frontend in frontends)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{frontend,-26} {names.GetValueOrDefault(frontend, "(unknown)")}");
        }

        text.AppendLine();
        text.Append(ServiceMapWriter.FormatTable(rows));
        output.Write(text.ToString());
        return 0;
    }

    /// <summary>
    /// Detaches the programs and removes the node's pins, and with <c>--wireguard=true</c> the WireGuard interface (its peers
    /// and routes go with it; the key stays in the state directory); 0 also when there was nothing to remove.
    /// </summary>
    public static async Task<int> UninstallAsync(AgentOptions options, ILoggerFactory loggerFactory, TextWriter output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(output);
        var removed = BpfDatapath.Uninstall(ServiceProgrammer.DatapathOptions(options), loggerFactory.CreateLogger<BpfDatapath>());
        output.WriteLine(removed ? $"removed the datapath of node {options.NodeName} ({options.PinDirectory})" : $"nothing pinned under {options.PinDirectory}");
        if (options.WireGuard)
        {
            var device = new WireGuardDevice(TunnelService.DeviceOptions(options), loggerFactory.CreateLogger<WireGuardDevice>());
            await device.RemoveAsync(cancellationToken).ConfigureAwait(false);
            output.WriteLine($"removed the WireGuard interface {options.WireGuardInterface} (namespace {options.WireGuardNetns ?? "(own)"}), if there was one");
        }

        return 0;
    }
}
