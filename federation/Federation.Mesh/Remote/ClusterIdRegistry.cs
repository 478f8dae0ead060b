namespace Federation.Mesh.Remote;

/// <summary>Which remote cluster holds which cluster ID: two connected remotes never share one.</summary>
internal sealed class ClusterIdRegistry
{
    private readonly Lock _gate = new();
    private readonly Dictionary<uint, string> _holders = [];

    /// <summary>Claims <paramref name="id"/> for <paramref name="cluster"/> (releasing any other ID it held); returns the other holder when taken.</summary>
    public string? TryClaim(string cluster, uint id)
    {
        lock (_gate)
        {
            if (_holders.TryGetValue(id, out var holder) && holder != cluster)
            {
                return holder;
            }

            ReleaseLocked(cluster);
            _holders[id] = cluster;
            return null;
        }
    }

    public void Release(string cluster)
    {
        lock (_gate)
        {
            ReleaseLocked(cluster);
        }
    }

    private void ReleaseLocked(string cluster)
    {
        foreach (var (id, holder) in _holders.ToList())
        {
            if (holder == cluster)
            {
                _holders.Remove(id);
            }
        }
    }
}
