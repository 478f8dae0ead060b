namespace Federation.NodeAgent.Datapath;

/// <summary>An open BPF map (a file descriptor, usually from a bpffs pin). Not thread-safe to dispose while in use.</summary>
internal sealed unsafe class BpfMap : IDisposable
{
    private int _fd;

    private BpfMap(string name, int fd)
    {
        Name = name;
        _fd = fd;
    }

    public string Name { get; }

    /// <summary>Opens a pinned map.</summary>
    public static BpfMap OpenPinned(string path)
    {
        var fd = LibBpf.bpf_obj_get(path);
        if (fd < 0)
        {
            throw new BpfException($"bpf_obj_get {path}", fd);
        }

        return new BpfMap(Path.GetFileName(path), fd);
    }

    private int Fd => _fd >= 0 ? _fd : throw new ObjectDisposedException(Name);

    public bool TryLookup<TKey, TValue>(TKey key, out TValue value)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        TValue found = default;
        var rc = LibBpf.bpf_map_lookup_elem(Fd, &key, &found);
        if (rc == -LibBpf.ENOENT)
        {
            value = default;
            return false;
        }

        Check(rc, "lookup");
        value = found;
        return true;
    }

    public void Update<TKey, TValue>(TKey key, TValue value)
        where TKey : unmanaged
        where TValue : unmanaged
        => Check(LibBpf.bpf_map_update_elem(Fd, &key, &value, LibBpf.BPF_ANY), "update");

    /// <summary>Deletes a key; false if it was not there.</summary>
    public bool Delete<TKey>(TKey key)
        where TKey : unmanaged
    {
        var rc = LibBpf.bpf_map_delete_elem(Fd, &key);
        if (rc == -LibBpf.ENOENT)
        {
            return false;
        }

        Check(rc, "delete");
        return true;
    }

    /// <summary>All keys at the time of the walk (a snapshot taken before the caller sees any).</summary>
    public List<TKey> Keys<TKey>()
        where TKey : unmanaged
    {
        var keys = new List<TKey>();
        TKey next = default;
        var rc = LibBpf.bpf_map_get_next_key(Fd, null, &next);
        while (rc == 0)
        {
            keys.Add(next);
            var current = next;
            rc = LibBpf.bpf_map_get_next_key(Fd, &current, &next);
        }

        if (rc != -LibBpf.ENOENT)
        {
            Check(rc, "get_next_key");
        }

        return keys;
    }

    /// <summary>Sums a u64 value of a per-CPU map over all possible CPUs.</summary>
    public ulong SumPerCpu(uint key)
    {
        var cpus = LibBpf.libbpf_num_possible_cpus();
        if (cpus <= 0)
        {
            throw new BpfException("libbpf_num_possible_cpus", cpus);
        }

        var values = new ulong[cpus];
        fixed (ulong* buffer = values)
        {
            Check(LibBpf.bpf_map_lookup_elem(Fd, &key, buffer), "lookup");
        }

        ulong sum = 0;
        foreach (var value in values)
        {
            sum += value;
        }

        return sum;
    }

    private void Check(int rc, string operation)
    {
        if (rc < 0)
        {
            throw new BpfException($"{Name}: {operation}", rc);
        }
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            _ = LibBpf.Close(_fd);
            _fd = -1;
        }
    }
}
