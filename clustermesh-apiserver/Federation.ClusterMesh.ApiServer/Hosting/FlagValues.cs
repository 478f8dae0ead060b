using System.Globalization;

namespace Federation.ClusterMesh.ApiServer.Hosting;

/// <summary>
/// Values of command-line flags, each error naming its flag. Shared by clustermesh-apiserver and node-agent
/// (compiled into both by link, as <c>PrometheusMetrics</c> is).
/// </summary>
internal static class FlagValues
{
    public static uint ParseUInt(string name, string value, List<string> errors)
    {
        if (uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }

        errors.Add($"{name}: '{value}' is not a non-negative integer");
        return 0;
    }

    public static List<Uri> ParseUris(string name, string value, List<string> errors)
    {
        var uris = new List<Uri>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (Uri.TryCreate(part, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            {
                uris.Add(uri);
            }
            else
            {
                errors.Add($"{name}: '{part}' is not an http(s) URL");
            }
        }

        return uris;
    }

    /// <summary>"90s", "15m", "1h", "250ms" or plain seconds.</summary>
    public static TimeSpan ParseDuration(string name, string value, List<string> errors)
    {
        (string Suffix, double Seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, seconds) in units.OrderByDescending(u => u.Suffix.Length))
        {
            if (value.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(value[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount >= 0)
            {
                return TimeSpan.FromSeconds(amount * seconds);
            }
        }

        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain) && plain >= 0)
        {
            return TimeSpan.FromSeconds(plain);
        }

        errors.Add($"{name}: '{value}' is not a duration (e.g. 90s, 15m, 1h)");
        return TimeSpan.Zero;
    }
}
