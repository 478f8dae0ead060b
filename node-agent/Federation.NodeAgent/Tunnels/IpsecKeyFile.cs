using System.Collections.Immutable;
using System.Globalization;

namespace Federation.NodeAgent.Tunnels;

/// <summary>One IPsec key: its SPI and the xfrm algorithm arguments.</summary>
internal sealed record IpsecKey
{
    /// <summary>1-15, as Cilium's key file (the SPI is bumped on each rotation).</summary>
    public required byte Spi { get; init; }

    /// <summary>The <c>ip xfrm state</c> algorithm arguments, e.g. <c>aead rfc4106(gcm(aes)) 0x… 128</c>.</summary>
    public required ImmutableArray<string> AlgorithmArguments { get; init; }

    public bool Equals(IpsecKey? other) => other is not null && Spi == other.Spi && AlgorithmArguments.SequenceEqual(other.AlgorithmArguments);

    public override int GetHashCode() => HashCode.Combine(Spi, AlgorithmArguments.Length);
}

/// <summary>
/// Cilium's IPsec key file (the <c>keys</c> entry of the <c>cilium-ipsec-keys</c> secret), one line:
/// <c>SPI[+] AEAD-ALGO KEY ICV-BITS</c> (e.g. <c>3 rfc4106(gcm(aes)) 0x… 128</c>) or
/// <c>SPI[+] AUTH-ALGO AUTH-KEY ENC-ALGO ENC-KEY</c> (e.g. <c>1 hmac(sha256) 0x… cbc(aes) 0x…</c>).
/// </summary>
internal static class IpsecKeyFile
{
    /// <summary>The key in <paramref name="path"/>; <see cref="FormatException"/> names the file and what is wrong with it (or that it cannot be read).</summary>
    public static IpsecKey Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FormatException($"{path}: does not exist");
        }

        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"{path}: cannot be read ({e.Message})", e);
        }

        try
        {
            return Parse(text);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>The key of the file's text; <see cref="FormatException"/> names what is wrong (never the key material).</summary>
    public static IpsecKey Parse(string text)
    {
        var fields = text.Split((char[])[' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length is not (4 or 5))
        {
            throw new FormatException($"an IPsec key line has 4 fields (SPI AEAD-ALGO KEY ICV) or 5 (SPI AUTH-ALGO AUTH-KEY ENC-ALGO ENC-KEY), not {fields.Length}");
        }

        if (!byte.TryParse(fields[0].TrimEnd('+'), NumberStyles.None, CultureInfo.InvariantCulture, out var spi) || spi is 0 or > 15)
        {
            throw new FormatException($"the SPI \"{fields[0]}\" is not a number from 1 to 15");
        }

        if (fields.Length == 4)
        {
            RequireHexKey(fields[2], "AEAD key");
            if (!int.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var icv) || icv is not (64 or 96 or 128))
            {
                throw new FormatException($"the ICV length \"{fields[3]}\" is not 64, 96 or 128 bits");
            }

            return new IpsecKey { Spi = spi, AlgorithmArguments = ["aead", fields[1], fields[2], fields[3]] };
        }

        RequireHexKey(fields[2], "authentication key");
        RequireHexKey(fields[4], "encryption key");
        return new IpsecKey { Spi = spi, AlgorithmArguments = ["auth", fields[1], fields[2], "enc", fields[3], fields[4]] };
    }

    private static void RequireHexKey(string key, string what)
    {
        if (!key.StartsWith("0x", StringComparison.Ordinal) || key.Length < 4 || key.Length % 2 != 0 || !key.AsSpan(2).ContainsOnlyHex())
        {
            throw new FormatException($"the {what} is not 0x followed by an even number of hex digits");
        }
    }
}

internal static class HexSpanExtensions
{
    public static bool ContainsOnlyHex(this ReadOnlySpan<char> span) => !span.ContainsAnyExcept("0123456789abcdefABCDEF");
}
