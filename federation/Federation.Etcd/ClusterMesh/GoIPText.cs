using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Federation.Etcd.ClusterMesh;

/// <summary>
/// IP address text as Go's <c>net.IP</c> reads and writes it: strict dotted-quad IPv4 (no leading
/// zeros, no shorthand), IPv6 without zones, printed in RFC 5952 form, IPv4-mapped IPv6 printed as IPv4,
/// and the empty string for an unset address.
/// </summary>
public static class GoIPText
{
    /// <summary>Parses <paramref name="text"/> as Go would and returns Go's canonical text for it ("" stays "").</summary>
    public static bool TryNormalize(string text, out string normalized)
    {
        normalized = string.Empty;
        if (text.Length == 0)
        {
            return true;
        }

        if (!TryParse(text, out var address))
        {
            return false;
        }

        normalized = Format(address);
        return true;
    }

    /// <summary>Parses a non-empty address with Go's rules.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (text.Contains(':', StringComparison.Ordinal))
        {
            foreach (var c in text)
            {
                if (!(char.IsAsciiHexDigit(c) || c == ':' || c == '.'))
                {
                    return false;
                }
            }

            var lastColon = text.LastIndexOf(':');
            var tail = text[(lastColon + 1)..];
            if (tail.Contains('.', StringComparison.Ordinal) && !TryParseIPv4(tail, out _))
            {
                return false;
            }

            return IPAddress.TryParse(text, out address) && address.AddressFamily == AddressFamily.InterNetworkV6;
        }

        if (!TryParseIPv4(text, out var bytes))
        {
            return false;
        }

        address = new IPAddress(bytes);
        return true;
    }

    /// <summary>Go's <c>net.IP.String()</c> for <paramref name="address"/>.</summary>
    public static string Format(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var written))
        {
            throw new ArgumentException("address does not fit 16 bytes", nameof(address));
        }

        if (written == 4)
        {
            return FormatIPv4(bytes[..4]);
        }

        if (bytes[..10].IndexOfAnyExcept((byte)0) < 0 && bytes[10] == 0xff && bytes[11] == 0xff)
        {
            return FormatIPv4(bytes[12..16]);
        }

        Span<int> groups = stackalloc int[8];
        for (var i = 0; i < 8; i++)
        {
            groups[i] = (bytes[2 * i] << 8) | bytes[(2 * i) + 1];
        }

        // RFC 5952: the longest run of two or more zero groups becomes "::" (the first on a tie).
        int bestStart = -1, bestLength = 0;
        for (var i = 0; i < 8;)
        {
            if (groups[i] != 0)
            {
                i++;
                continue;
            }

            var start = i;
            while (i < 8 && groups[i] == 0)
            {
                i++;
            }

            if (i - start > bestLength && i - start >= 2)
            {
                (bestStart, bestLength) = (start, i - start);
            }
        }

        var builder = new StringBuilder(39);
        for (var i = 0; i < 8; i++)
        {
            if (i == bestStart)
            {
                builder.Append("::");
                i += bestLength - 1;
                continue;
            }

            if (i > 0 && builder[^1] != ':')
            {
                builder.Append(':');
            }

            builder.Append(groups[i].ToString("x", CultureInfo.InvariantCulture));
        }

        return builder.ToString();
    }

    /// <summary>Whether two address texts are valid and name the same address under Go's rules.</summary>
    public static bool AreSameAddress(string a, string b) =>
        TryParse(a, out var x) && TryParse(b, out var y) && Format(x) == Format(y);

    private static string FormatIPv4(ReadOnlySpan<byte> b) =>
        string.Create(CultureInfo.InvariantCulture, $"{b[0]}.{b[1]}.{b[2]}.{b[3]}");

    private static bool TryParseIPv4(string text, out byte[] bytes)
    {
        bytes = new byte[4];
        var parts = text.Split('.');
        if (parts.Length != 4)
        {
            return false;
        }

        for (var i = 0; i < 4; i++)
        {
            var part = parts[i];
            if (part.Length is 0 or > 3 || (part.Length > 1 && part[0] == '0'))
            {
                return false;
            }

            var value = 0;
            foreach (var c in part)
            {
                if (!char.IsAsciiDigit(c))
                {
                    return false;
                }

                value = (value * 10) + (c - '0');
            }

            if (value > 255)
            {
                return false;
            }

            bytes[i] = (byte)value;
        }

        return true;
    }
}
