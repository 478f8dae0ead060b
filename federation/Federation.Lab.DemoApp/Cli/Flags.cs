using System.Globalization;

namespace Federation.Lab.DemoApp.Cli;

/// <summary>A bad command line: the message names the flag; the process prints it with the usage and exits 2.</summary>
internal sealed class FlagException(string message) : Exception(message);

/// <summary>Reads <c>--name value</c> and <c>--name=value</c> pairs; every flag takes a value.</summary>
internal sealed class Flags
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    private Flags()
    {
    }

    public static Flags Parse(IReadOnlyList<string> args, IReadOnlySet<string> known)
    {
        var flags = new Flags();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new FlagException($"unexpected argument '{arg}'");
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals > 0 ? arg[..equals] : arg;
            if (!known.Contains(name))
            {
                throw new FlagException($"{name}: unknown flag");
            }

            var value = equals > 0 ? arg[(equals + 1)..] : i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
            if (string.IsNullOrEmpty(value))
            {
                throw new FlagException($"{name}: a value is required");
            }

            if (!flags._values.TryAdd(name, value))
            {
                throw new FlagException($"{name}: given twice");
            }
        }

        return flags;
    }

    public string? Optional(string name) => _values.GetValueOrDefault(name);

    public string Required(string name) => Optional(name) ?? throw new FlagException($"{name}: required");

    public int Int(string name, int defaultValue, int min, int max)
    {
        if (Optional(name) is not { } text)
        {
            return defaultValue;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new FlagException($"{name}: '{text}' is not a whole number in {min}..{max}");
    }

    public Uri? HttpUrl(string name)
    {
        if (Optional(name) is not { } text)
        {
            return null;
        }

        return Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttp
            ? uri
            : throw new FlagException($"{name}: '{text}' is not an http://HOST:PORT URL");
    }
}
