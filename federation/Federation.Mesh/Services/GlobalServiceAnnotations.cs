using System.Collections.Immutable;

namespace Federation.Mesh.Services;

/// <summary>
/// Reads the global service annotations of a local Service (DESIGN.md §4), with Cilium's legacy
/// <c>io.cilium/...</c> aliases; the primary name wins over the alias, as in Cilium. Same reading of
/// <c>global</c> and <c>shared</c> as the clustermesh-apiserver's exporter, so what a cluster exports and
/// what its nodes use agree. Malformed values are reported in <see cref="GlobalServiceSettings.Problems"/>
/// and the default applies; nothing throws.
/// </summary>
public static class GlobalServiceAnnotations
{
    public const string Global = "service.cilium.io/global";
    public const string GlobalAlias = "io.cilium/global-service";
    public const string Shared = "service.cilium.io/shared";
    public const string SharedAlias = "io.cilium/shared-service";
    public const string Affinity = "service.cilium.io/affinity";
    public const string AffinityAlias = "io.cilium/service-affinity";

    /// <summary>Parses the annotations of one Service; a missing map means no annotations.</summary>
    public static GlobalServiceSettings Parse(IReadOnlyDictionary<string, string>? annotations)
    {
        var problems = ImmutableArray.CreateBuilder<string>();
        var global = ReadBool(annotations, Global, GlobalAlias, defaultValue: false, problems);
        var shared = ReadBool(annotations, Shared, SharedAlias, defaultValue: true, problems);
        var affinity = ServiceAffinity.None;
        if (TryGet(annotations, Affinity, AffinityAlias, out var name, out var value))
        {
            if (string.Equals(value, "local", StringComparison.OrdinalIgnoreCase))
            {
                affinity = ServiceAffinity.Local;
            }
            else if (string.Equals(value, "remote", StringComparison.OrdinalIgnoreCase))
            {
                affinity = ServiceAffinity.Remote;
            }
            else if (!string.Equals(value, "none", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"annotation {name}: unrecognized value \"{value}\" (allowed: local, remote, none); using none");
            }
        }

        // As in Cilium, affinity means nothing for a Service that is not global.
        return new GlobalServiceSettings
        {
            Global = global,
            Shared = shared,
            Affinity = global ? affinity : ServiceAffinity.None,
            Problems = problems.ToImmutable(),
        };
    }

    private static bool ReadBool(
        IReadOnlyDictionary<string, string>? annotations, string primary, string alias, bool defaultValue, ImmutableArray<string>.Builder problems)
    {
        if (!TryGet(annotations, primary, alias, out var name, out var value))
        {
            return defaultValue;
        }

        if (string.Equals(value, "true", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (string.Equals(value, "false", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        problems.Add($"annotation {name}: unrecognized value \"{value}\" (allowed: true, false); using {(defaultValue ? "true" : "false")}");
        return defaultValue;
    }

    private static bool TryGet(IReadOnlyDictionary<string, string>? annotations, string primary, string alias, out string name, out string value)
    {
        if (annotations is not null)
        {
            if (annotations.TryGetValue(primary, out var found))
            {
                (name, value) = (primary, found);
                return true;
            }

            if (annotations.TryGetValue(alias, out found))
            {
                (name, value) = (alias, found);
                return true;
            }
        }

        (name, value) = (string.Empty, string.Empty);
        return false;
    }
}

/// <summary>The effective global service settings of a Service, and what was wrong with its annotations (for the caller to log and count).</summary>
public sealed record GlobalServiceSettings
{
    public bool Global { get; init; }

    public bool Shared { get; init; } = true;

    public ServiceAffinity Affinity { get; init; }

    /// <summary>One human-readable line per malformed annotation; empty when all were fine.</summary>
    public ImmutableArray<string> Problems { get; init => field = value.IsDefault ? [] : value; } = [];

    public bool Equals(GlobalServiceSettings? other) =>
        other is not null
        && Global == other.Global
        && Shared == other.Shared
        && Affinity == other.Affinity
        && ValueEquality.SequenceEquals(Problems, other.Problems);

    public override int GetHashCode() => HashCode.Combine(Global, Shared, Affinity, ValueEquality.SequenceHash(Problems));
}
