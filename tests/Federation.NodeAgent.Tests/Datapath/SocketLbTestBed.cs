using System.Net;
using Federation.NodeAgent.Datapath;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.NodeAgent.Tests.Datapath;

/// <summary>
/// A throwaway cgroup with the socket load balancer attached, pinned under a throwaway bpffs
/// root, and the backends a test starts. Disposing detaches, unpins, stops and removes it all.
/// </summary>
internal sealed class SocketLbTestBed : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    private SocketLbTestBed(TestCgroup cgroup, BpfDatapathOptions options)
    {
        Cgroup = cgroup;
        Options = options;
    }

    public TestCgroup Cgroup { get; }

    public BpfDatapathOptions Options { get; }

    public BpfDatapath? Datapath { get; private set; }

    public ServiceMapWriter Writer { get; private set; } = null!;

    private static int _nextVip = Random.Shared.Next(256, 60000);

    /// <summary>A VIP in 127.96.0.0/16 no other test bed of this run uses.</summary>
    public IPAddress Vip { get; } = NextVip();

    private static IPAddress NextVip()
    {
        var n = Interlocked.Increment(ref _nextVip);
        return new IPAddress([127, 96, (byte)(n >> 8), (byte)n]);
    }

    public static SocketLbTestBed Create()
    {
        var cgroup = TestCgroup.Create();
        var id = Guid.NewGuid().ToString("N")[..12];
        var bed = new SocketLbTestBed(cgroup, new BpfDatapathOptions
        {
            NodeName = $"node-{id}",
            CgroupPath = cgroup.Path,
            BpfFsRoot = $"/sys/fs/bpf/federation-test-{id}",
        });
        try
        {
            bed.Reinstall();
            return bed;
        }
        catch
        {
            bed.Dispose();
            throw;
        }
    }

    /// <summary>Closes the datapath's fds and installs again on the same pins, like a restarted agent.</summary>
    public void Reinstall()
    {
        Datapath?.Dispose();
        Datapath = BpfDatapath.Install(Options, NullLogger<BpfDatapath>.Instance);
        Writer = new ServiceMapWriter(Datapath.Maps, NullLogger<ServiceMapWriter>.Instance);
    }

    /// <summary>Swaps the programs behind the pinned links for freshly loaded ones, like an agent upgrade.</summary>
    public void Upgrade()
    {
        Datapath?.Dispose();
        Datapath = BpfDatapath.Upgrade(Options, NullLogger<BpfDatapath>.Instance);
        Writer = new ServiceMapWriter(Datapath.Maps, NullLogger<ServiceMapWriter>.Instance);
    }

    public T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    public TcpBackend TcpBackend(string name, int address)
        => Own(new TcpBackend(name, new IPAddress([127, 0, 1, (byte)address])));

    public UdpBackend UdpBackend(string name, int address)
        => Own(new UdpBackend(name, new IPAddress([127, 0, 1, (byte)address])));

    public void Dispose()
    {
        var errors = new List<Exception>();
        void Try(Action action)
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                errors.Add(e);
            }
        }

        Try(() => Datapath?.Dispose());
        Try(() => BpfDatapath.Uninstall(Options, NullLogger<BpfDatapath>.Instance));
        Try(() =>
        {
            if (Directory.Exists(Options.BpfFsRoot))
            {
                Directory.Delete(Options.BpfFsRoot);
            }
        });
        Try(Cgroup.Dispose);
        foreach (var owned in _owned)
        {
            Try(owned.Dispose);
        }

        if (errors.Count > 0)
        {
            throw new AggregateException("cleaning up the socket LB test bed failed", errors);
        }
    }
}
