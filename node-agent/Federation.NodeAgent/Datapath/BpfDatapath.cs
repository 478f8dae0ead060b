using System.ComponentModel.DataAnnotations;

namespace Federation.NodeAgent.Datapath;

/// <summary>
/// The socket load balancer of one node: the lb4 programs attached to the node's cgroup through
/// BPF links, and the maps, all pinned under <see cref="BpfDatapathOptions.PinDirectory"/>.
/// </summary>
/// <remarks>
/// Pins outlive the agent: a restarted agent finds the links still attached and the maps still
/// filled, and only opens the maps (<see cref="ReusedLinks"/>), so translation never stops.
/// A new program version is swapped in without a window by <see cref="Upgrade"/>: it loads the new
/// object with its maps pointed at the same pins (<c>bpf_map__set_pin_path</c> reuses them) and
/// <c>bpf_link_update</c>s each pinned link to the new program; the kernel replaces the program
/// atomically. A change of a map's layout cannot be done this way (libbpf refuses to reuse a pin
/// whose key/value size differs): it needs new map names and a migration.
/// Disposing only closes file descriptors; <see cref="Uninstall"/> detaches.
/// </remarks>
internal sealed partial class BpfDatapath : IDisposable
{
    /// <summary>Program name in lb4.c → pin name of its link.</summary>
    internal static readonly (string Program, string Link)[] Programs =
    [
        ("lb4_connect", "link_connect4"),
        ("lb4_sendmsg", "link_sendmsg4"),
        ("lb4_recvmsg", "link_recvmsg4"),
        ("lb4_getpeername", "link_getpeername4"),
    ];

    private BpfDatapath(BpfDatapathOptions options, LbMaps maps, bool reusedLinks)
    {
        Options = options;
        Maps = maps;
        ReusedLinks = reusedLinks;
    }

    public BpfDatapathOptions Options { get; }

    public LbMaps Maps { get; }

    /// <summary>True when every link was already pinned and attached to this cgroup: nothing was loaded or attached.</summary>
    public bool ReusedLinks { get; }

    /// <summary>
    /// Makes sure the programs are attached to the cgroup and the maps pinned, reusing whatever
    /// pins already exist, and opens the maps.
    /// </summary>
    public static BpfDatapath Install(BpfDatapathOptions options, ILogger<BpfDatapath> logger)
    {
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        var pinDirectory = options.PinDirectory;
        Directory.CreateDirectory(pinDirectory);
        var cgroupId = LibBpf.InodeOf(options.CgroupPath);

        var missing = new List<(string Program, string Link)>();
        foreach (var (program, link) in Programs)
        {
            var linkPath = Path.Combine(pinDirectory, link);
            if (!File.Exists(linkPath))
            {
                missing.Add((program, link));
                continue;
            }

            var attachedTo = LinkCgroupId(linkPath);
            if (attachedTo != cgroupId)
            {
                // The cgroup was removed (id 0) or the node moved to another cgroup.
                Log.LinkOnOtherCgroup(logger, options.NodeName, link, attachedTo, options.CgroupPath, cgroupId);
                DetachPinnedLink(linkPath);
                missing.Add((program, link));
            }
        }

        var allMapsPinned = LbMapNames.All.All(name => File.Exists(Path.Combine(pinDirectory, name)));
        if (missing.Count == 0 && allMapsPinned)
        {
            Log.Reused(logger, options.NodeName, pinDirectory);
            return new BpfDatapath(options, LbMaps.Open(pinDirectory), reusedLinks: true);
        }

        LoadAndAttach(options, missing, replace: [], logger);
        return new BpfDatapath(options, LbMaps.Open(pinDirectory), reusedLinks: false);
    }

    /// <summary>
    /// Replaces the programs behind the pinned links with the ones in <see cref="BpfDatapathOptions.ObjectPath"/>
    /// (atomically, keeping the maps and their entries), attaching any program that has no link yet.
    /// </summary>
    public static BpfDatapath Upgrade(BpfDatapathOptions options, ILogger<BpfDatapath> logger)
    {
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        var pinDirectory = options.PinDirectory;
        Directory.CreateDirectory(pinDirectory);
        var cgroupId = LibBpf.InodeOf(options.CgroupPath);
        var missing = new List<(string Program, string Link)>();
        var replace = new List<(string Program, string Link)>();
        foreach (var entry in Programs)
        {
            var linkPath = Path.Combine(pinDirectory, entry.Link);
            if (File.Exists(linkPath) && LinkCgroupId(linkPath) == cgroupId)
            {
                replace.Add(entry);
            }
            else
            {
                if (File.Exists(linkPath))
                {
                    DetachPinnedLink(linkPath);
                }

                missing.Add(entry);
            }
        }

        LoadAndAttach(options, missing, replace, logger);
        return new BpfDatapath(options, LbMaps.Open(pinDirectory), reusedLinks: missing.Count == 0);
    }

    /// <summary>
    /// Detaches the programs from the cgroup and removes every pin of the node, whether or not
    /// this process installed them. Returns false when there was nothing to remove.
    /// </summary>
    public static bool Uninstall(BpfDatapathOptions options, ILogger<BpfDatapath> logger)
    {
        var pinDirectory = options.PinDirectory;
        if (!Directory.Exists(pinDirectory))
        {
            return false;
        }

        var detached = 0;
        foreach (var (_, link) in Programs)
        {
            var linkPath = Path.Combine(pinDirectory, link);
            if (File.Exists(linkPath))
            {
                DetachPinnedLink(linkPath);
                detached++;
            }
        }

        // Maps (and anything else left, e.g. by an older version) go with the directory.
        foreach (var pin in Directory.EnumerateFileSystemEntries(pinDirectory))
        {
            File.Delete(pin);
        }

        Directory.Delete(pinDirectory);
        Log.Uninstalled(logger, options.NodeName, detached, pinDirectory);
        return true;
    }

    /// <summary>The datapath's counters, summed over CPUs.</summary>
    public LbCounters ReadCounters() => new(
        Maps.Counters.SumPerCpu((uint)LbCounterIndex.Translations),
        Maps.Counters.SumPerCpu((uint)LbCounterIndex.BackendMisses),
        Maps.Counters.SumPerCpu((uint)LbCounterIndex.NoBackend),
        Maps.Counters.SumPerCpu((uint)LbCounterIndex.Reverse));

    /// <summary>The kernel ids of the pinned links (link pin name → id): they change only when a link is re-created.</summary>
    public IReadOnlyDictionary<string, uint> LinkIds()
        => Programs.ToDictionary(p => p.Link, p => ReadLinkInfo(Path.Combine(Options.PinDirectory, p.Link)).Id);

    /// <summary>The kernel ids of the programs behind the pinned links (link pin name → program id).</summary>
    public IReadOnlyDictionary<string, uint> ProgramIds()
        => Programs.ToDictionary(p => p.Link, p => ReadLinkInfo(Path.Combine(Options.PinDirectory, p.Link)).ProgramId);

    public void Dispose() => Maps.Dispose();

    private static void LoadAndAttach(BpfDatapathOptions options, List<(string Program, string Link)> missing, List<(string Program, string Link)> replace, ILogger logger)
    {
        var pinDirectory = options.PinDirectory;
        var obj = LibBpf.bpf_object__open_file(options.ObjectPath, 0);
        if (obj == 0)
        {
            throw new BpfException($"bpf_object__open_file {options.ObjectPath}", System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        }

        var cgroupFd = -1;
        try
        {
            foreach (var name in LbMapNames.All)
            {
                var map = LibBpf.bpf_object__find_map_by_name(obj, name);
                if (map == 0)
                {
                    throw new InvalidOperationException($"{options.ObjectPath} has no map {name}");
                }

                // Existing pins are reused as they are (so their entries survive); new maps are pinned at load.
                Check(LibBpf.bpf_map__set_pin_path(map, Path.Combine(pinDirectory, name)), $"bpf_map__set_pin_path {name}");
            }

            Check(LibBpf.bpf_object__load(obj), $"bpf_object__load {options.ObjectPath}");

            cgroupFd = LibBpf.Open(options.CgroupPath, LibBpf.O_RDONLY | LibBpf.O_DIRECTORY | LibBpf.O_CLOEXEC);
            if (cgroupFd < 0)
            {
                throw new BpfException($"open {options.CgroupPath}", System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
            }

            foreach (var (programName, linkName) in missing)
            {
                var program = LibBpf.bpf_object__find_program_by_name(obj, programName);
                if (program == 0)
                {
                    throw new InvalidOperationException($"{options.ObjectPath} has no program {programName}");
                }

                var link = LibBpf.bpf_program__attach_cgroup(program, cgroupFd);
                if (link == 0)
                {
                    throw new BpfException($"attach {programName} to {options.CgroupPath}", System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
                }

                try
                {
                    Check(LibBpf.bpf_link__pin(link, Path.Combine(pinDirectory, linkName)), $"pin {linkName}");
                }
                finally
                {
                    // Closes our fd only: a pinned link stays attached, an unpinned one goes away.
                    _ = LibBpf.bpf_link__destroy(link);
                }

                Log.Attached(logger, options.NodeName, programName, options.CgroupPath, pinDirectory);
            }

            foreach (var (programName, linkName) in replace)
            {
                var program = LibBpf.bpf_object__find_program_by_name(obj, programName);
                if (program == 0)
                {
                    throw new InvalidOperationException($"{options.ObjectPath} has no program {programName}");
                }

                var linkPath = Path.Combine(pinDirectory, linkName);
                var linkFd = LibBpf.bpf_obj_get(linkPath);
                if (linkFd < 0)
                {
                    throw new BpfException($"bpf_obj_get {linkPath}", linkFd);
                }

                try
                {
                    Check(LibBpf.bpf_link_update(linkFd, LibBpf.bpf_program__fd(program), 0), $"bpf_link_update {linkName}");
                }
                finally
                {
                    _ = LibBpf.Close(linkFd);
                }

                Log.Replaced(logger, options.NodeName, programName, linkName);
            }
        }
        finally
        {
            if (cgroupFd >= 0)
            {
                _ = LibBpf.Close(cgroupFd);
            }

            // Programs stay alive through their links, maps through their pins.
            LibBpf.bpf_object__close(obj);
        }
    }

    private static void DetachPinnedLink(string linkPath)
    {
        var fd = LibBpf.bpf_obj_get(linkPath);
        if (fd >= 0)
        {
            // Detach explicitly: another process may still hold the link open.
            _ = LibBpf.bpf_link_detach(fd);
            _ = LibBpf.Close(fd);
        }

        File.Delete(linkPath);
    }

    private static ulong LinkCgroupId(string linkPath) => ReadLinkInfo(linkPath).CgroupId;

    private static unsafe (uint Id, uint ProgramId, ulong CgroupId) ReadLinkInfo(string linkPath)
    {
        var fd = LibBpf.bpf_obj_get(linkPath);
        if (fd < 0)
        {
            throw new BpfException($"bpf_obj_get {linkPath}", fd);
        }

        try
        {
            // struct bpf_link_info: type, id, prog_id (u32 each), then the union (8-aligned) whose
            // cgroup member starts with the u64 cgroup_id.
            var info = stackalloc byte[32];
            new Span<byte>(info, 32).Clear();
            uint length = 32;
            Check(LibBpf.bpf_obj_get_info_by_fd(fd, info, &length), $"bpf_obj_get_info_by_fd {linkPath}");
            return (*(uint*)(info + 4), *(uint*)(info + 8), *(ulong*)(info + 16));
        }
        finally
        {
            _ = LibBpf.Close(fd);
        }
    }

    private static void Check(int rc, string operation)
    {
        if (rc < 0)
        {
            throw new BpfException(operation, rc);
        }
    }
}

/// <summary>The open maps of a node's socket load balancer.</summary>
internal sealed class LbMaps : IDisposable
{
    private LbMaps(BpfMap services, BpfMap backends, BpfMap revNat, BpfMap counters)
    {
        Services = services;
        Backends = backends;
        RevNat = revNat;
        Counters = counters;
    }

    public BpfMap Services { get; }

    public BpfMap Backends { get; }

    public BpfMap RevNat { get; }

    public BpfMap Counters { get; }

    public static LbMaps Open(string pinDirectory)
    {
        var opened = new List<BpfMap>();
        try
        {
            foreach (var name in LbMapNames.All)
            {
                opened.Add(BpfMap.OpenPinned(Path.Combine(pinDirectory, name)));
            }

            return new LbMaps(opened[0], opened[1], opened[2], opened[3]);
        }
        catch
        {
            opened.ForEach(map => map.Dispose());
            throw;
        }
    }

    public void Dispose()
    {
        Services.Dispose();
        Backends.Dispose();
        RevNat.Dispose();
        Counters.Dispose();
    }
}
