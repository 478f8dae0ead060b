namespace Federation.Etcd.ClusterMesh;

/// <summary>
/// Value equality for the collections inside wire records: maps compare as sets of ordinal
/// key/value pairs (whatever their comparer or insertion order), lists element by element.
/// </summary>
internal static class WireEquality
{
    public static bool MapEquals<TValue>(
        IReadOnlyDictionary<string, TValue>? a,
        IReadOnlyDictionary<string, TValue>? b,
        IEqualityComparer<TValue>? valueComparer = null,
        bool nullEqualsEmpty = false)
    {
        if (nullEqualsEmpty && (a is null || a.Count == 0) && (b is null || b.Count == 0))
        {
            return true;
        }

        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a is null || b is null || a.Count != b.Count)
        {
            return false;
        }

        valueComparer ??= EqualityComparer<TValue>.Default;
        var left = Sorted(a);
        var right = Sorted(b);
        for (var i = 0; i < left.Length; i++)
        {
            if (!string.Equals(left[i].Key, right[i].Key, StringComparison.Ordinal) || !valueComparer.Equals(left[i].Value, right[i].Value))
            {
                return false;
            }
        }

        return true;
    }

    public static int MapHash<TValue>(IReadOnlyDictionary<string, TValue>? map, IEqualityComparer<TValue>? valueComparer = null)
    {
        if (map is null)
        {
            return 0;
        }

        valueComparer ??= EqualityComparer<TValue>.Default;
        var hash = map.Count;
        foreach (var (key, value) in map)
        {
            // Addition is order-independent.
            hash += HashCode.Combine(StringComparer.Ordinal.GetHashCode(key), value is null ? 0 : valueComparer.GetHashCode(value));
        }

        return hash;
    }

    public static bool ListEquals<T>(IReadOnlyList<T>? a, IReadOnlyList<T>? b, IEqualityComparer<T>? comparer = null)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a is null || b is null || a.Count != b.Count)
        {
            return false;
        }

        comparer ??= EqualityComparer<T>.Default;
        for (var i = 0; i < a.Count; i++)
        {
            if (!comparer.Equals(a[i], b[i]))
            {
                return false;
            }
        }

        return true;
    }

    public static int ListHash<T>(IReadOnlyList<T>? list, IEqualityComparer<T>? comparer = null)
    {
        if (list is null)
        {
            return 0;
        }

        comparer ??= EqualityComparer<T>.Default;
        var hash = new HashCode();
        hash.Add(list.Count);
        foreach (var item in list)
        {
            hash.Add(item is null ? 0 : comparer.GetHashCode(item));
        }

        return hash.ToHashCode();
    }

    private static KeyValuePair<string, TValue>[] Sorted<TValue>(IReadOnlyDictionary<string, TValue> map)
    {
        var entries = map.ToArray();
        Array.Sort(entries, static (x, y) => string.CompareOrdinal(x.Key, y.Key));
        return entries;
    }
}

/// <summary><see cref="WireEquality.MapEquals{TValue}"/> as a comparer, for maps nested in maps.</summary>
internal sealed class MapComparer<TValue>(IEqualityComparer<TValue>? valueComparer = null) : IEqualityComparer<IReadOnlyDictionary<string, TValue>?>
{
    public static MapComparer<TValue> Default { get; } = new();

    public bool Equals(IReadOnlyDictionary<string, TValue>? x, IReadOnlyDictionary<string, TValue>? y) =>
        WireEquality.MapEquals(x, y, valueComparer);

    public int GetHashCode(IReadOnlyDictionary<string, TValue>? obj) => WireEquality.MapHash(obj, valueComparer);
}
