using Spectre.Console;

namespace Federation.Cli.Lab;

public sealed partial class LabRunner
{
    /// <summary>
    /// Removes everything of the lab: its processes (pods, agents, apiservers, etcds), the processes left in its
    /// namespaces (wireguard-go), its namespaces, cgroups, bpffs pins, WireGuard sockets and its directory. Works from the
    /// state file and, for what a crash kept out of it, by the lab's names (prefix <see cref="Prefix"/>).
    /// </summary>
    public async Task<int> DownAsync(LabState? state, CancellationToken ct)
    {
        RequireRoot("down");
        var removed = 0;
        if (state is not null)
        {
            var byRole = state.Processes.Where(LabSystem.IsAlive).ToList();
            foreach (var role in new[] { "client", "pod", "node-agent", "clustermesh-apiserver", "kube-apiserver", "etcd" })
            {
                var group = byRole.Where(p => p.Role == role).ToList();
                removed += group.Count;
                await LabSystem.StopAsync(group, TimeSpan.FromSeconds(role == "etcd" ? 10 : 5));
            }
        }

        // Anything still running with the lab directory on its command line (a process started after the last save).
        foreach (var pid in ProcessesMentioning(labDirectory))
        {
            LabSystem.Signal(pid, "KILL");
            removed++;
        }

        var namespaces = LabSystem.Run("ip", ["netns", "list"], check: false).Output
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0])
            .Where(n => n.StartsWith(Prefix + "-", StringComparison.Ordinal))
            .Union(state?.Namespaces ?? [])
            .OrderBy(n => n == UnderlayNamespace ? 1 : 0)
            .ToList();
        foreach (var ns in namespaces)
        {
            foreach (var pid in LabSystem.ProcessesInNamespace(ns))
            {
                LabSystem.Signal(pid, "KILL");
                removed++;
            }
        }

        foreach (var pid in WireGuardGoOfLab())
        {
            LabSystem.Signal(pid, "KILL");
            removed++;
        }

        await Task.Delay(200, CancellationToken.None);
        foreach (var ns in namespaces)
        {
            if (LabSystem.Run("ip", ["netns", "del", ns], check: false).ExitCode == 0)
            {
                removed++;
            }
        }

        foreach (var socket in System.IO.Directory.Exists("/var/run/wireguard") ? System.IO.Directory.GetFiles("/var/run/wireguard", "wg-c*.sock") : [])
        {
            File.Delete(socket);
        }

        var cgroupRoot = SafeCgroupRoot();
        foreach (var cgroup in (state?.Cgroups ?? []).Append(cgroupRoot is null ? null : Path.Combine(cgroupRoot, Prefix)).OfType<string>().Distinct())
        {
            if (System.IO.Directory.Exists(cgroup))
            {
                await LabSystem.RemoveCgroupAsync(cgroup);
                removed++;
            }
        }

        foreach (var dir in (state?.BpfDirectories ?? []).Append(Path.Combine(LabSystem.BpfFsRoot, Prefix)).Distinct())
        {
            if (System.IO.Directory.Exists(dir))
            {
                System.IO.Directory.Delete(dir, recursive: true);
                removed++;
            }
        }

        if (System.IO.Directory.Exists(labDirectory))
        {
            System.IO.Directory.Delete(labDirectory, recursive: true);
            removed++;
        }

        Console.MarkupLine(removed == 0 ? "lab down: nothing to remove" : $"lab down: removed {removed} processes, namespaces, cgroups, pin folders and folders");
        return 0;
    }

    private static string? SafeCgroupRoot()
    {
        try
        {
            return LabSystem.CgroupRoot;
        }
        catch (CliException)
        {
            return null;
        }
    }

    private static IEnumerable<int> ProcessesMentioning(string text)
    {
        var self = Environment.ProcessId;
        foreach (var dir in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == self)
            {
                continue;
            }

            string cmdline;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            // Lab programs name files in the lab directory; a clustermesh CLI run (or the sudo/shell running it) is spared.
            var isCli = cmdline.Contains("clustermesh", StringComparison.Ordinal) && cmdline.Contains(" lab ", StringComparison.Ordinal);
            if (cmdline.Contains(text + "/", StringComparison.Ordinal) && !isCli)
            {
                yield return pid;
            }
        }
    }

    /// <summary>wireguard-go processes serving a lab interface (<c>wg-cInJ</c>), wherever they run.</summary>
    private static IEnumerable<int> WireGuardGoOfLab()
    {
        foreach (var dir in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            string[] argv;
            try
            {
                argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            if (argv.Length > 0 && Path.GetFileName(argv[0]) == "wireguard-go" && argv.Any(a => LabInterface().IsMatch(a)))
            {
                yield return pid;
            }
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("^wg-c[0-9]+n[0-9]+$")]
    private static partial System.Text.RegularExpressions.Regex LabInterface();
}
