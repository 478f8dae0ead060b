using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Federation.Etcd.ClusterMesh;

/// <summary>
/// The time text of <c>cilium/.heartbeat</c> and <c>cilium/synced/...</c> values: Go's
/// <c>time.RFC3339</c> (<c>2026-01-02T15:04:05Z</c>, or <c>+01:00</c> for other offsets).
/// </summary>
public static class ClusterMeshTimestamp
{
    private static readonly string[] Formats = ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"];

    /// <summary>Whole seconds; "Z" for UTC.</summary>
    public static string Format(DateTimeOffset time) => time.Offset == TimeSpan.Zero
        ? time.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
        : time.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

    /// <summary>Parses RFC 3339, with or without fractional seconds (Go accepts up to 9 digits; beyond 7 are dropped).</summary>
    public static bool TryParse(string text, out DateTimeOffset time)
    {
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            var end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
            {
                end++;
            }

            if (end - dot - 1 > 7)
            {
                text = string.Concat(text.AsSpan(0, dot + 8), text.AsSpan(end));
            }
        }

        return DateTimeOffset.TryParseExact(text, Formats, CultureInfo.InvariantCulture, DateTimeStyles.None, out time);
    }

    /// <summary>As <see cref="TryParse(string, out DateTimeOffset)"/>, for raw etcd bytes.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out DateTimeOffset? time)
    {
        time = null;
        if (!System.Text.Unicode.Utf8.IsValid(utf8) || !TryParse(System.Text.Encoding.UTF8.GetString(utf8), out var parsed))
        {
            return false;
        }

        time = parsed;
        return true;
    }
}
