namespace Federation.NodeAgent.Datapath;

/// <summary>Hands out ids from 1 to <c>max</c>, reusing the lowest released id first.</summary>
internal sealed class IdAllocator(uint max)
{
    private readonly SortedSet<uint> _free = [];
    private readonly HashSet<uint> _used = [];
    private uint _next = 1;

    public IReadOnlyCollection<uint> InUse => _used;

    public uint Allocate()
    {
        uint id;
        if (_free.Count > 0)
        {
            id = _free.Min;
            _free.Remove(id);
        }
        else if (_next <= max)
        {
            id = _next++;
        }
        else
        {
            throw new InvalidOperationException($"all {max} ids are in use");
        }

        _used.Add(id);
        return id;
    }

    public void Release(uint id)
    {
        if (_used.Remove(id))
        {
            _free.Add(id);
        }
    }

    /// <summary>Marks an id found in the maps as used; ids below it that nobody uses become free.</summary>
    public void Reserve(uint id)
    {
        if (id == 0 || id > max || !_used.Add(id))
        {
            return;
        }

        _free.Remove(id);
        for (; _next < id; _next++)
        {
            _free.Add(_next);
        }

        if (_next == id)
        {
            _next++;
        }
    }
}
