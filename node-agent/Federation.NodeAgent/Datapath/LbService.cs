using System.Collections.Immutable;
using System.Net;

namespace Federation.NodeAgent.Datapath;

/// <summary>Transport protocol of a frontend or backend (the IP protocol number).</summary>
internal enum LbProtocol : byte
{
    Tcp = 6,
    Udp = 17,
}

/// <summary>A service frontend: VIP, port and protocol.</summary>
internal sealed record LbFrontend(IPAddress Vip, ushort Port, LbProtocol Protocol)
{
    public override string ToString() => $"{Vip}:{Port}/{Protocol.ToString().ToUpperInvariant()}";
}

/// <summary>A backend; the same backend used by several services gets one backend id.</summary>
internal sealed record LbBackend(IPAddress Address, ushort Port, LbProtocol Protocol, ushort ClusterId)
{
    public override string ToString() => $"{Address}:{Port}/{Protocol.ToString().ToUpperInvariant()}";
}

/// <summary>
/// A service as the datapath should serve it: backends in slot order (slot 1 = first). An empty
/// list keeps the frontend and makes connect() fail at once instead of going to the VIP.
/// </summary>
internal sealed record LbService(LbFrontend Frontend, ImmutableArray<LbBackend> Backends)
{
    public bool Equals(LbService? other)
        => other is not null && Frontend.Equals(other.Frontend) && Backends.SequenceEqual(other.Backends);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Frontend);
        foreach (var backend in Backends)
        {
            hash.Add(backend);
        }

        return hash.ToHashCode();
    }
}

/// <summary>Counters of the datapath, summed over CPUs.</summary>
internal sealed record LbCounters(ulong Translations, ulong BackendMisses, ulong NoBackendRejects, ulong ReverseTranslations);

/// <summary>One row of <see cref="ServiceMapWriter.Dump"/>: slot 0 is the master entry.</summary>
internal sealed record ServiceMapRow(string Service, int Slot, uint BackendId, string Backend, ushort ClusterId, int Count, ushort RevNatId);

/// <summary>What one <see cref="ServiceMapWriter.Apply"/> wrote.</summary>
internal sealed record ServiceMapChange(int BackendsAdded, int SlotsWritten, int MastersWritten, int SlotsDeleted, int ServicesDeleted, int BackendsDeleted)
{
    public bool IsEmpty => this == Empty;

    public static ServiceMapChange Empty { get; } = new(0, 0, 0, 0, 0, 0);
}
