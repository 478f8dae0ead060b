using Federation.NodeAgent.Datapath;
using Federation.NodeAgent.Tests.Datapath;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.NodeAgent.Bench;

/// <summary>A throwaway cgroup with the socket load balancer attached and pinned under a throwaway bpffs root.</summary>
internal sealed class Bed : IDisposable
{
    private Bed(TestCgroup cgroup, BpfDatapathOptions options, BpfDatapath datapath)
    {
        Cgroup = cgroup;
        Options = options;
        Datapath = datapath;
        Writer = new ServiceMapWriter(datapath.Maps, NullLogger<ServiceMapWriter>.Instance);
    }

    public TestCgroup Cgroup { get; }

    public BpfDatapathOptions Options { get; }

    public BpfDatapath Datapath { get; }

    public ServiceMapWriter Writer { get; }

    public static Bed Create(string node)
    {
        var cgroup = TestCgroup.Create();
        var options = new BpfDatapathOptions { NodeName = node, CgroupPath = cgroup.Path, BpfFsRoot = $"/sys/fs/bpf/federation-{node}" };
        try
        {
            return new Bed(cgroup, options, BpfDatapath.Install(options, NullLogger<BpfDatapath>.Instance));
        }
        catch
        {
            _ = BpfDatapath.Uninstall(options, NullLogger<BpfDatapath>.Instance);
            cgroup.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Datapath.Dispose();
        _ = BpfDatapath.Uninstall(Options, NullLogger<BpfDatapath>.Instance);
        if (Directory.Exists(Options.BpfFsRoot))
        {
            Directory.Delete(Options.BpfFsRoot);
        }

        Cgroup.Dispose();
    }
}
