using System.Collections.Immutable;
using System.Numerics;

namespace Federation.Etcd.ClusterMesh;

/// <summary>
/// Go's <c>net.IPMask</c> on the wire: standard base64 of the mask bytes (<c>////AA==</c> is a /24).
/// <see cref="JsonNull"/> stands for a value that was written as JSON <c>null</c> (a nil mask in older
/// Cilium), so it can be written back the same way; an absent field is a C# null property instead.
/// </summary>
public sealed class IPMask : IEquatable<IPMask>
{
    private IPMask(ImmutableArray<byte> bytes, bool isJsonNull)
    {
        Bytes = bytes;
        IsJsonNull = isJsonNull;
    }

    /// <summary>A nil mask, written as <c>null</c>.</summary>
    public static IPMask JsonNull { get; } = new(ImmutableArray<byte>.Empty, true);

    /// <summary>The mask bytes (4 for IPv4, 16 for IPv6); empty for <see cref="JsonNull"/>.</summary>
    public ImmutableArray<byte> Bytes { get; }

    public bool IsJsonNull { get; }

    public static IPMask FromBytes(ReadOnlySpan<byte> bytes) => new([.. bytes], false);

    /// <summary>A mask of <paramref name="ones"/> leading one bits out of <paramref name="totalBits"/> (32 or 128).</summary>
    public static IPMask FromPrefixLength(int ones, int totalBits)
    {
        if (totalBits is not (32 or 128))
        {
            throw new ArgumentOutOfRangeException(nameof(totalBits), totalBits, "an IP mask has 32 or 128 bits");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(ones);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ones, totalBits);
        var bytes = new byte[totalBits / 8];
        for (var i = 0; i < bytes.Length; i++)
        {
            var bits = Math.Clamp(ones - (8 * i), 0, 8);
            bytes[i] = (byte)(0xff << (8 - bits));
        }

        return FromBytes(bytes);
    }

    /// <summary>
    /// The prefix length, as Go's <c>IPMask.Size()</c>: null when the mask is not ones followed by zeros
    /// (or is <see cref="JsonNull"/>).
    /// </summary>
    public int? PrefixLength
    {
        get
        {
            if (IsJsonNull || Bytes.IsEmpty)
            {
                return null;
            }

            var ones = 0;
            var seenZero = false;
            foreach (var b in Bytes)
            {
                var leading = BitOperations.LeadingZeroCount((uint)(byte)~b) - 24;
                if (seenZero && b != 0)
                {
                    return null;
                }

                if (b != 0xff)
                {
                    if ((byte)(b << leading) != 0)
                    {
                        return null;
                    }

                    seenZero = true;
                }

                ones += leading;
            }

            return ones;
        }
    }

    public bool Equals(IPMask? other) =>
        other is not null && IsJsonNull == other.IsJsonNull && Bytes.AsSpan().SequenceEqual(other.Bytes.AsSpan());

    public override bool Equals(object? obj) => Equals(obj as IPMask);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(IsJsonNull);
        hash.AddBytes(Bytes.AsSpan());
        return hash.ToHashCode();
    }

    public override string ToString() => IsJsonNull ? "null" : Convert.ToBase64String(Bytes.AsSpan());
}
