using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace Federation.Lab.ApiServer.Storage;

/// <summary>
/// The service ClusterIP range. It must lie inside 127.96.0.0/16, the lab's VIP block that no real
/// network uses; the network and broadcast addresses are never handed out.
/// </summary>
public sealed record ServiceIpRange(uint Network, int PrefixLength)
{
    /// <summary>The only block service ranges may come from.</summary>
    public const string LabBlock = "127.96.0.0/16";

    private const uint LabNetwork = (127u << 24) | (96u << 16);

    public uint First => Network + 1;

    public uint Last => Network + (uint)((1L << (32 - PrefixLength)) - 2);

    public bool Contains(uint address) => address >= First && address <= Last;

    public override string ToString() => $"{Format(Network)}/{PrefixLength}";

    /// <summary>Parses a CIDR; the error says why it is refused (outside the lab block, too small, malformed).</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out ServiceIpRange? range, [NotNullWhen(false)] out string? error)
    {
        range = null;
        var slash = text?.IndexOf('/') ?? -1;
        if (text is null || slash < 0
            || !IPAddress.TryParse(text.AsSpan(0, slash), out var address) || address.AddressFamily != AddressFamily.InterNetwork
            || !int.TryParse(text.AsSpan(slash + 1), out var prefix) || prefix is < 0 or > 32)
        {
            error = $"'{text}' is not an IPv4 CIDR such as 127.96.1.0/24";
            return false;
        }

        if (prefix < 16 || (ToUInt32(address) & 0xFFFF0000u) != LabNetwork)
        {
            error = $"'{text}' is not inside {LabBlock}, the lab's service VIP block (e.g. 127.96.1.0/24)";
            return false;
        }

        if (prefix > 30)
        {
            error = $"'{text}' is too small: use a prefix length of at most /30";
            return false;
        }

        var mask = uint.MaxValue << (32 - prefix);
        range = new ServiceIpRange(ToUInt32(address) & mask, prefix);
        error = null;
        return true;
    }

    public static uint ToUInt32(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    public static string Format(uint address)
        => $"{address >> 24}.{(address >> 16) & 0xFF}.{(address >> 8) & 0xFF}.{address & 0xFF}";

    public static bool TryParseAddress(string text, out uint address)
    {
        address = 0;
        if (!IPAddress.TryParse(text, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork || ip.ToString() != text)
        {
            return false;
        }

        address = ToUInt32(ip);
        return true;
    }
}
