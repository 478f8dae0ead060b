using System.Globalization;

namespace Federation.Mesh.Bench;

/// <summary>
/// A CPU cgroup for every remote etcd (bench option --remote-cpu idle|SHARES): the remotes stand for other clusters'
/// machines, so together they compete with the apiserver, its local etcd and the bench as one weighted or idle group,
/// not thread by thread as at nice 19, where many remote threads together can outweigh one thread at nice 0. Uses the
/// cgroup v1 cpu hierarchy if mounted, else cgroup v2 with the cpu controller; null where neither can be written, with
/// the reason.
/// </summary>
internal sealed class RemoteCpuGroup : IDisposable
{
    private const string Prefix = "federation-mesh-bench-";

    private RemoteCpuGroup(string path, string description)
    {
        Path = path;
        Description = description;
    }

    public string Path { get; }

    /// <summary>What the group is and how it is weighted, for the report.</summary>
    public string Description { get; }

    /// <summary>
    /// Creates the group: weighted like one more session against this one (<paramref name="shares"/> on cgroup v1's
    /// 1024 scale), or idle (SCHED_IDLE: only CPU nothing else wants) where <paramref name="shares"/> is null.
    /// </summary>
    public static RemoteCpuGroup? TryCreate(int? shares, out string? reason)
    {
        var roots = new List<string>();
        if (File.Exists("/sys/fs/cgroup/cpu/cpu.shares"))
        {
            roots.Add("/sys/fs/cgroup/cpu");
        }

        if (File.Exists("/sys/fs/cgroup/cgroup.subtree_control") && File.ReadAllText("/sys/fs/cgroup/cgroup.subtree_control").Split(' ', '\n').Contains("cpu"))
        {
            roots.Add("/sys/fs/cgroup");
        }

        if (roots.Count == 0)
        {
            reason = "no writable cpu cgroup controller (neither /sys/fs/cgroup/cpu nor cgroup v2's cpu controller)";
            return null;
        }

        reason = null;
        foreach (var root in roots)
        {
            RemoveStale(root);
            var path = System.IO.Path.Combine(root, Prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            try
            {
                Directory.CreateDirectory(path);
                string description;
                if (shares is null)
                {
                    if (!TryWrite(System.IO.Path.Combine(path, "cpu.idle"), "1"))
                    {
                        TryRemove(path);
                        reason = $"{path}: cpu.idle cannot be written (kernel older than 5.15?)";
                        continue;
                    }

                    description = $"cgroup {path}, cpu.idle=1";
                }
                else if (TryWrite(System.IO.Path.Combine(path, "cpu.shares"), shares.Value.ToString(CultureInfo.InvariantCulture)))
                {
                    description = $"cgroup {path}, cpu.shares={shares} (this session's processes: 1024)";
                }
                else
                {
                    // cgroup v2: weight 100 is what cpu.shares 1024 is on v1.
                    var weight = Math.Clamp(shares.Value * 100 / 1024, 1, 10000);
                    if (!TryWrite(System.IO.Path.Combine(path, "cpu.weight"), weight.ToString(CultureInfo.InvariantCulture)))
                    {
                        TryRemove(path);
                        reason = $"{path}: neither cpu.shares nor cpu.weight can be written";
                        continue;
                    }

                    description = $"cgroup {path}, cpu.weight={weight} (this session's processes: 100)";
                }

                return new RemoteCpuGroup(path, description);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                reason = $"{path}: {ex.Message}";
            }
        }

        return null;
    }

    /// <summary>Moves a process, with all its threads, into the group.</summary>
    public void Add(int pid) => File.WriteAllText(System.IO.Path.Combine(Path, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));

    /// <summary>Removes the group; its processes must have exited (a cgroup with members cannot be removed).</summary>
    public void Dispose()
    {
        for (var attempt = 0; attempt < 50 && !TryRemove(Path); attempt++)
        {
            Thread.Sleep(100);
        }
    }

    // Groups left by a bench that was killed: removed if empty, so the machine does not collect them.
    private static void RemoveStale(string root)
    {
        foreach (var directory in Directory.EnumerateDirectories(root, Prefix + "*"))
        {
            var pid = System.IO.Path.GetFileName(directory)[Prefix.Length..];
            if (!Directory.Exists("/proc/" + pid))
            {
                TryRemove(directory);
            }
        }
    }

    private static bool TryWrite(string file, string value)
    {
        try
        {
            File.WriteAllText(file, value);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool TryRemove(string directory)
    {
        try
        {
            // A cgroup directory is removed with rmdir; its control files go with it.
            Directory.Delete(directory, recursive: false);
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
