using System.Globalization;

namespace Federation.Lab.ApiServer.Tables;

/// <summary>Durations the way kubectl prints ages (Kubernetes' HumanDuration): <c>5s</c>, <c>3m20s</c>, <c>2d4h</c>, <c>3y</c>.</summary>
internal static class HumanDuration
{
    public static string Format(TimeSpan duration)
    {
        // Up to a second in the future is clock skew between machines: "now".
        var seconds = (long)Math.Floor(duration.TotalSeconds);
        if (seconds < -1)
        {
            return "<invalid>";
        }

        if (seconds < 0)
        {
            return "0s";
        }

        if (seconds < 120)
        {
            return Invariant($"{seconds}s");
        }

        var minutes = seconds / 60;
        if (minutes < 10)
        {
            return WithRest(minutes, "m", seconds % 60, "s");
        }

        if (minutes < 180)
        {
            return Invariant($"{minutes}m");
        }

        var hours = minutes / 60;
        if (hours < 8)
        {
            return WithRest(hours, "h", minutes % 60, "m");
        }

        if (hours < 48)
        {
            return Invariant($"{hours}h");
        }

        var days = hours / 24;
        if (hours < 24 * 8)
        {
            return WithRest(days, "d", hours % 24, "h");
        }

        if (days < 365 * 2)
        {
            return Invariant($"{days}d");
        }

        var years = days / 365;
        return days < 365 * 8 ? WithRest(years, "y", days % 365, "d") : Invariant($"{years}y");
    }

    private static string WithRest(long value, string unit, long rest, string restUnit)
        => rest == 0 ? Invariant($"{value}{unit}") : Invariant($"{value}{unit}{rest}{restUnit}");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
