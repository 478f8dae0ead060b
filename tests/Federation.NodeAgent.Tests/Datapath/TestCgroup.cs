using System.Diagnostics;

namespace Federation.NodeAgent.Tests.Datapath;

/// <summary>A throwaway cgroup v2 directory; disposing kills what runs in it and removes it.</summary>
internal sealed class TestCgroup : IDisposable
{
    private const string Root = "/sys/fs/cgroup/unified";

    private TestCgroup(string path) => Path = path;

    public string Path { get; }

    public string ProcsFile => System.IO.Path.Combine(Path, "cgroup.procs");

    public static TestCgroup Create()
    {
        var path = System.IO.Path.Combine(Root, $"federation-test-{Guid.NewGuid():N}"[..32]);
        Directory.CreateDirectory(path);
        return new TestCgroup(path);
    }

    public IReadOnlyList<int> Processes()
        => [.. File.ReadAllLines(ProcsFile).Where(l => l.Length > 0).Select(int.Parse)];

    public void Dispose()
    {
        if (!Directory.Exists(Path))
        {
            return;
        }

        if (Processes().Count > 0)
        {
            // cgroup.kill (kernel 5.14+) SIGKILLs every process in the cgroup, forks included.
            File.WriteAllText(System.IO.Path.Combine(Path, "cgroup.kill"), "1");
        }

        // Waiting for a condition with a deadline: the killed processes leave the cgroup when reaped.
        var deadline = Stopwatch.StartNew();
        while (Processes().Count > 0)
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new TimeoutException($"processes {string.Join(',', Processes())} did not leave {Path}");
            }

            Thread.Sleep(10);
        }

        Directory.Delete(Path);
    }
}
