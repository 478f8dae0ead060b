using System.Globalization;
using System.Text;
using Federation.NodeAgent.Datapath;
using Federation.NodeAgent.Sync;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.NodeAgent.Hosting;

/// <summary>The one-shot modes of node-agent: <c>--dump</c> and <c>--uninstall</c>.</summary>
internal static class AgentCommands
{
    /// <summary>Prints the service names of the last apply and the maps as they are in the kernel; 1 when the node has no pins.</summary>
    public static int Dump(AgentOptions options, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
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

    /// <summary>Detaches the programs and removes the node's pins; 0 also when there was nothing to remove.</summary>
    public static int Uninstall(AgentOptions options, ILogger<BpfDatapath> logger, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        var removed = BpfDatapath.Uninstall(ServiceProgrammer.DatapathOptions(options), logger);
        output.WriteLine(removed ? $"removed the datapath of node {options.NodeName} ({options.PinDirectory})" : $"nothing pinned under {options.PinDirectory}");
        return 0;
    }
}
