using System.Collections.Concurrent;
using System.Globalization;

namespace Federation.Etcd.Tests.Infrastructure;

/// <summary>
/// Makes sure no etcd process or temp directory outlives the test run: servers still alive at
/// process exit are killed, and leftovers of earlier runs whose test host died without running
/// its exit handlers (SIGKILL, crash, hang timeout) are removed when the next run starts one.
/// </summary>
internal static class EtcdProcessJanitor
{
    /// <summary>Each server gets a directory below this one, holding an owner file, the data dir and the certificates.</summary>
    public static readonly string RootDirectory = Path.Combine(Path.GetTempPath(), "federation-etcd-tests");

    private const string OwnerFileName = "owner";

    private static readonly ConcurrentDictionary<EtcdServer, byte> Live = new();
    private static readonly Lazy<string> OwnStartTime = new(() => StartTimeOf(Environment.ProcessId) ?? "unknown");
    private static int _initialized;

    public static void Register(EtcdServer server)
    {
        if (Interlocked.Exchange(ref _initialized, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
            RemoveOrphans();
        }

        Live.TryAdd(server, 0);
    }

    public static void Unregister(EtcdServer server) => Live.TryRemove(server, out _);

    /// <summary>Records who owns <paramref name="serverDirectory"/> and which etcd process (if any) runs in it.</summary>
    public static void WriteOwnerFile(string serverDirectory, int? etcdPid)
    {
        var path = Path.Combine(serverDirectory, OwnerFileName);
        var temp = path + ".tmp";
        File.WriteAllLines(temp,
        [
            Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            OwnStartTime.Value,
            etcdPid?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
        ]);
        File.Move(temp, path, overwrite: true);
    }

    private static void KillAll()
    {
        foreach (var server in Live.Keys)
        {
            server.KillAndDeleteAtProcessExit();
        }
    }

    private static void RemoveOrphans()
    {
        if (!Directory.Exists(RootDirectory))
        {
            return;
        }

        foreach (var directory in Directory.EnumerateDirectories(RootDirectory))
        {
            try
            {
                RemoveIfOrphaned(directory);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                // Best effort: a directory we cannot judge or remove is left for the next run.
            }
        }
    }

    private static void RemoveIfOrphaned(string directory)
    {
        var ownerFile = Path.Combine(directory, OwnerFileName);
        if (!File.Exists(ownerFile))
        {
            // The owner file is written right after the directory is created; give a starting
            // server in another test run time to write it.
            if (DateTime.UtcNow - Directory.GetCreationTimeUtc(directory) > TimeSpan.FromMinutes(5))
            {
                Directory.Delete(directory, recursive: true);
            }

            return;
        }

        var lines = File.ReadAllLines(ownerFile);
        var ownerPid = int.Parse(lines[0], CultureInfo.InvariantCulture);
        if (StartTimeOf(ownerPid) == lines[1])
        {
            return; // the test host that owns it is still running
        }

        if (lines.Length > 2 && int.TryParse(lines[2], CultureInfo.InvariantCulture, out var etcdPid)
            && CommandLineOf(etcdPid).Contains(directory, StringComparison.Ordinal))
        {
            PosixSignal.Send(etcdPid, PosixSignal.Kill);
        }

        Directory.Delete(directory, recursive: true);
    }

    /// <summary>The start time field of /proc/PID/stat: with the pid it names one process for good.</summary>
    private static string? StartTimeOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Field 2 (comm) is in parentheses and may hold spaces; starttime is field 22.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[19];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string CommandLineOf(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }
}
