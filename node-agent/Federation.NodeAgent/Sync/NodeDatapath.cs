using Federation.NodeAgent.Datapath;

namespace Federation.NodeAgent.Sync;

/// <summary>The node's installed datapath once the programmer installed it; disposing closes its file descriptors (the pins stay).</summary>
internal sealed class NodeDatapath : IDisposable
{
    private volatile BpfDatapath? _datapath;

    public BpfDatapath? Current => _datapath;

    public void Set(BpfDatapath datapath) => _datapath = datapath;

    /// <summary>The datapath counters, or null before install.</summary>
    public LbCounters? ReadCounters()
    {
        try
        {
            return _datapath?.ReadCounters();
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
    }

    public void Dispose() => _datapath?.Dispose();
}
