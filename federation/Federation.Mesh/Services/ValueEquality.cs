using System.Collections.Immutable;

namespace Federation.Mesh.Services;

/// <summary>Structural equality for the immutable collections inside the service records (records compare them by reference).</summary>
internal static class ValueEquality
{
    public static bool SequenceEquals<T>(ImmutableArray<T> a, ImmutableArray<T> b)
    {
        if (a.IsDefaultOrEmpty || b.IsDefaultOrEmpty)
        {
            return a.IsDefaultOrEmpty && b.IsDefaultOrEmpty;
        }

        return a.AsSpan().SequenceEqual(b.AsSpan(), EqualityComparer<T>.Default);
    }

    public static int SequenceHash<T>(ImmutableArray<T> items)
    {
        var hash = new HashCode();
        if (!items.IsDefault)
        {
            foreach (var item in items)
            {
                hash.Add(item);
            }
        }

        return hash.ToHashCode();
    }

    /// <summary>Maps compare as sets of ordinal key/value pairs, whatever their comparer or order.</summary>
    public static bool MapEquals<TValue>(ImmutableDictionary<string, TValue> a, ImmutableDictionary<string, TValue> b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a.Count != b.Count)
        {
            return false;
        }

        foreach (var (key, value) in a)
        {
            if (!TryGetOrdinal(b, key, out var other) || !EqualityComparer<TValue>.Default.Equals(value, other))
            {
                return false;
            }
        }

        return true;
    }

    public static int MapHash<TValue>(ImmutableDictionary<string, TValue> map)
    {
        var hash = map.Count;
        foreach (var (key, value) in map)
        {
            // Addition does not depend on the enumeration order.
            hash += HashCode.Combine(StringComparer.Ordinal.GetHashCode(key), value);
        }

        return hash;
    }

    private static bool TryGetOrdinal<TValue>(ImmutableDictionary<string, TValue> map, string key, out TValue? value)
    {
        if (ReferenceEquals(map.KeyComparer, StringComparer.Ordinal) || map.KeyComparer == EqualityComparer<string>.Default)
        {
            return map.TryGetValue(key, out value);
        }

        foreach (var (k, v) in map)
        {
            if (string.Equals(k, key, StringComparison.Ordinal))
            {
                value = v;
                return true;
            }
        }

        value = default;
        return false;
    }
}
