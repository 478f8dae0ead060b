namespace Federation.Etcd.ClusterMesh;

/// <summary>
/// Go's string order: byte-wise on UTF-8, which is code-point order. Differs from
/// <see cref="StringComparer.Ordinal"/> (UTF-16 code units) only when a supplementary character
/// meets a character in U+E000..U+FFFF.
/// </summary>
internal sealed class GoStringOrder : IComparer<string>
{
    public static GoStringOrder Instance { get; } = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null)
        {
            return -1;
        }

        if (y is null)
        {
            return 1;
        }

        var length = Math.Min(x.Length, y.Length);
        for (var i = 0; i < length; i++)
        {
            if (x[i] != y[i])
            {
                return CodePointRank(x[i]).CompareTo(CodePointRank(y[i]));
            }
        }

        return x.Length.CompareTo(y.Length);
    }

    // Surrogates (D800..DFFF) encode code points above FFFF: rank them after E000..FFFF.
    private static int CodePointRank(char c) => c switch
    {
        >= '\uE000' => c - 0x800,
        >= '\uD800' => c + 0x2000,
        _ => c,
    };
}
