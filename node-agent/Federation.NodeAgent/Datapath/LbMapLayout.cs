using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Federation.NodeAgent.Datapath;

// Mirrors of bpf/lb_maps.h. Field names are the C names in PascalCase: LbMapLayoutTests compares
// sizes, names and offsets with the BTF of the compiled object. Addresses and ports hold network
// byte order (__be32/__be16), exactly the bytes the kernel compares.

/// <summary>struct lb_service_key: slot 0 is the master entry of a service.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LbServiceKey
{
    public uint Vip;
    public ushort Port;
    public ushort Slot;
    public byte Proto;
    public byte Scope;
    public unsafe fixed byte Pad[2];
}

/// <summary>struct lb_service_value: master (count, rev_nat_id, flags) or slot (backend_id).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LbServiceValue
{
    public uint BackendId;
    public ushort Count;
    public ushort RevNatId;
    public byte Flags;
    public unsafe fixed byte Pad[3];
}

/// <summary>struct lb_backend.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LbBackendValue
{
    public uint Addr;
    public ushort Port;
    public byte Proto;
    public byte State;
    public ushort ClusterId;
    public unsafe fixed byte Pad[2];
}

/// <summary>struct lb_revnat: the VIP a socket was translated from, and the backend it went to.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LbRevNat
{
    public uint Vip;
    public ushort Port;
    public ushort Pad;
    public uint BackendAddr;
    public ushort BackendPort;
    public ushort Pad2;
}

/// <summary>Indexes of the per-CPU counter array (enum lb_counter).</summary>
internal enum LbCounterIndex : uint
{
    Translations = 0,
    BackendMisses = 1,
    NoBackend = 2,
    Reverse = 3,
}

/// <summary>Map names and sizes of bpf/lb_maps.h and bpf/lb4.c.</summary>
internal static class LbMapNames
{
    public const string Services = "lb4_services";
    public const string Backends = "lb4_backends";
    public const string RevNat = "lb4_revnat";
    public const string Counters = "lb4_counters";

    public const int ServiceMapSize = 262144;
    public const int BackendMapSize = 131072;
    public const int RevNatMapSize = 262144;

    public static readonly string[] All = [Services, Backends, RevNat, Counters];
}

/// <summary>Conversions between .NET values and the network-order fields of the maps.</summary>
internal static class NetOrder
{
    public static uint Address(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"{address} is not an IPv4 address", nameof(address));
        }

        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return MemoryMarshal.Read<uint>(bytes);
    }

    public static IPAddress Address(uint networkOrder)
    {
        Span<byte> bytes = stackalloc byte[4];
        MemoryMarshal.Write(bytes, in networkOrder);
        return new IPAddress(bytes);
    }

    public static ushort Port(ushort port) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(port) : port;
}
