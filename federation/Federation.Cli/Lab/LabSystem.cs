using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Federation.Cli.Lab;

/// <summary>The host operations of the lab: commands, detached processes, namespaces, cgroups. Everything here needs root.</summary>
public static class LabSystem
{
    /// <summary>The cgroup v2 mount: <c>/sys/fs/cgroup/unified</c> on hybrid hosts, else <c>/sys/fs/cgroup</c>.</summary>
    public static string CgroupRoot
        => File.Exists("/sys/fs/cgroup/unified/cgroup.procs") ? "/sys/fs/cgroup/unified"
            : File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup"
            : throw new CliException("no cgroup v2 hierarchy found (neither /sys/fs/cgroup/unified nor a cgroup2 /sys/fs/cgroup)", "the lab needs cgroup v2 for the socket load balancer");

    public const string BpfFsRoot = "/sys/fs/bpf";

    public static bool IsRoot => Environment.UserName == "root" || Run("id", ["-u"], check: false).Output.Trim() == "0";

    public sealed record CommandResult(int ExitCode, string Output, string Error);

    /// <summary>Runs a command to its end (30 s at most); with <paramref name="check"/>, a non-zero exit is a <see cref="CliException"/>.</summary>
    public static CommandResult Run(string program, IReadOnlyList<string> args, bool check = true, string? stdin = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new CliException($"cannot start {program}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CliException($"cannot run {program}: {e.Message}", "install the lab's dependencies: eng/install-deps.sh", e);
        }

        using (process)
        {
            if (stdin is not null)
            {
                process.StandardInput.Write(stdin);
                process.StandardInput.Close();
            }

            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(30_000))
            {
                process.Kill(entireProcessTree: true);
                throw new CliException($"{program} {string.Join(' ', args)} did not finish within 30 s");
            }

            var result = new CommandResult(process.ExitCode, output.Result, error.Result);
            if (check && result.ExitCode != 0)
            {
                throw new CliException($"{program} {string.Join(' ', args)} failed (exit {result.ExitCode}): {result.Error.Trim()}");
            }

            return result;
        }
    }

    public static void Ip(params string[] args) => Run("ip", args);

    /// <summary>
    /// Starts <paramref name="program"/> detached from this process (own session, stdin from /dev/null, output appended to
    /// <paramref name="log"/>), optionally inside a network namespace and a cgroup. The pid is the program's own (every
    /// wrapper execs).
    /// </summary>
    public static LabProcess Spawn(string name, string role, string? cluster, string program, IReadOnlyList<string> args, string log, string? netns = null, string? cgroup = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        var script = new StringBuilder();
        if (cgroup is not null)
        {
            script.Append("echo $$ > '").Append(cgroup).Append("/cgroup.procs' && ");
        }

        script.Append("exec \"$@\" >>'").Append(log).Append("' 2>&1 </dev/null");
        var info = new ProcessStartInfo("setsid") { UseShellExecute = false };
        if (netns is not null)
        {
            // nsenter, not 'ip netns exec': the latter remounts /sys, hiding bpffs pins from the program.
            info.ArgumentList.Add("nsenter");
            info.ArgumentList.Add($"--net=/var/run/netns/{netns}");
            info.ArgumentList.Add("--");
        }

        info.ArgumentList.Add("sh");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script.ToString());
        info.ArgumentList.Add("sh");
        info.ArgumentList.Add(program);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info) ?? throw new CliException($"cannot start {program}");
        return new LabProcess { Name = name, Role = role, Cluster = cluster, Pid = process.Id, StartTicks = StartTicks(process.Id) ?? 0, Log = log };
    }

    /// <summary>The process's start time in clock ticks since boot, or null when it does not exist.</summary>
    public static long? StartTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[19], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Whether the recorded process still runs (same pid and start time, not a zombie).</summary>
    public static bool IsAlive(LabProcess process)
    {
        var ticks = StartTicks(process.Pid);
        if (ticks is null || (process.StartTicks != 0 && ticks != process.StartTicks))
        {
            return false;
        }

        try
        {
            var stat = File.ReadAllText($"/proc/{process.Pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/>, for every live process of <paramref name="processes"/>.</summary>
    public static async Task StopAsync(IEnumerable<LabProcess> processes, TimeSpan grace)
    {
        var live = processes.Where(IsAlive).ToList();
        foreach (var p in live)
        {
            Signal(p.Pid, "TERM");
        }

        var deadline = Stopwatch.StartNew();
        while (live.Any(IsAlive) && deadline.Elapsed < grace)
        {
            await Task.Delay(100);
        }

        foreach (var p in live.Where(IsAlive))
        {
            Signal(p.Pid, "KILL");
        }

        while (live.Any(IsAlive) && deadline.Elapsed < grace + TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50);
        }
    }

    /// <summary>Sends SIGTERM (<c>TERM</c>) or SIGKILL (<c>KILL</c>); a process that is already gone is not an error.</summary>
    public static void Signal(int pid, string signal) => _ = SysKill(pid, signal == "KILL" ? 9 : 15);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);

    /// <summary>Pids of every process whose network namespace is <paramref name="netns"/>.</summary>
    public static IReadOnlyList<int> ProcessesInNamespace(string netns)
    {
        var path = $"/var/run/netns/{netns}";
        if (!File.Exists(path))
        {
            return [];
        }

        var inode = Run("stat", ["-L", "-c", "%i", path], check: false).Output.Trim();
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var target = new FileInfo($"/proc/{pid}/ns/net").LinkTarget;
                if (target is not null && target.Contains($"[{inode}]", StringComparison.Ordinal))
                {
                    pids.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }

        return pids;
    }

    /// <summary>Kills every process in the cgroup and its children, then removes them (deepest first).</summary>
    public static async Task RemoveCgroupAsync(string path)
    {
        if (!Directory.Exists(path))
        {
            return;
        }

        var all = Directory.EnumerateDirectories(path, "*", SearchOption.AllDirectories).Append(path).OrderByDescending(p => p.Length).ToList();
        foreach (var dir in all)
        {
            for (var attempt = 0; attempt < 50; attempt++)
            {
                var procs = File.Exists(Path.Combine(dir, "cgroup.procs")) ? File.ReadAllLines(Path.Combine(dir, "cgroup.procs")) : [];
                if (procs.Length == 0)
                {
                    break;
                }

                foreach (var pid in procs)
                {
                    Signal(int.Parse(pid, CultureInfo.InvariantCulture), "KILL");
                }

                await Task.Delay(100);
            }

            try
            {
                Directory.Delete(dir);
            }
            catch (IOException)
            {
                await Task.Delay(200);
                Directory.Delete(dir);
            }
        }
    }

    /// <summary>A free TCP port on 127.0.0.1 (bound and released).</summary>
    public static int FreePort(ISet<int> taken)
    {
        while (true)
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            listener.Start();
            var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            if (taken.Add(port))
            {
                return port;
            }
        }
    }
}
