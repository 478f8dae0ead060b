using System.Globalization;

namespace Federation.Etcd.ClusterMesh;

/// <summary>The outcome of a validation: ok, or a message naming the value and the rule it breaks.</summary>
public sealed record ValidationResult(bool Ok, string? Error)
{
    public static ValidationResult Success { get; } = new(true, null);

    public static ValidationResult Fail(string error) => new(false, error);
}

/// <summary>The security identities one cluster may allocate: <see cref="First"/>..<see cref="Last"/>, both included.</summary>
public readonly record struct IdentityRange(uint First, uint Last)
{
    public bool Contains(uint identity) => identity >= First && identity <= Last;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"[{First}, {Last}]");
}

/// <summary>ClusterMesh rules for cluster names, cluster IDs and the identity range a cluster owns.</summary>
public static class ClusterIdentity
{
    public const int MaxClusterNameLength = 32;

    /// <summary>The default mesh size: 8-bit cluster IDs.</summary>
    public const uint DefaultMaxConnectedClusters = 255;

    /// <summary>The extended mesh size: 9-bit cluster IDs, half the per-cluster identities.</summary>
    public const uint ExtendedMaxConnectedClusters = 511;

    /// <summary>Identities below this are reserved (host, world, ...) and belong to no cluster.</summary>
    public const uint MinimalAllocationIdentity = 256;

    /// <summary>Security identities are 24-bit numbers.</summary>
    public const int IdentityBits = 24;

    public const string ClusterNamePattern = "^([a-z0-9][-a-z0-9]*)?[a-z0-9]$";

    private const string ReservedClusterName = "default";

    /// <summary>
    /// A cluster name is 1 to 32 characters of <c>[a-z0-9-]</c>, starting and ending with a letter or
    /// digit (<see cref="ClusterNamePattern"/>), and is not <c>default</c>.
    /// </summary>
    public static ValidationResult ValidateClusterName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return ValidationResult.Fail("cluster name is empty: it must match " + ClusterNamePattern);
        }

        if (name.Length > MaxClusterNameLength)
        {
            return ValidationResult.Fail(string.Create(
                CultureInfo.InvariantCulture,
                $"cluster name \"{name}\" is {name.Length} characters long: at most {MaxClusterNameLength} are allowed"));
        }

        if (!MatchesNamePattern(name))
        {
            return ValidationResult.Fail(
                $"cluster name \"{name}\" is invalid: it must match {ClusterNamePattern} (lower-case letters, digits and '-', starting and ending with a letter or digit)");
        }

        if (name == ReservedClusterName)
        {
            return ValidationResult.Fail("cluster name \"default\" is reserved: choose another name");
        }

        return ValidationResult.Success;
    }

    /// <summary>Only 255 (8-bit cluster IDs) and 511 (9-bit cluster IDs) are valid mesh sizes.</summary>
    public static ValidationResult ValidateMaxConnectedClusters(uint maxConnectedClusters) =>
        maxConnectedClusters is DefaultMaxConnectedClusters or ExtendedMaxConnectedClusters
            ? ValidationResult.Success
            : ValidationResult.Fail(string.Create(
                CultureInfo.InvariantCulture,
                $"maxConnectedClusters {maxConnectedClusters} is invalid: it must be {DefaultMaxConnectedClusters} or {ExtendedMaxConnectedClusters}"));

    /// <summary>
    /// A cluster in a mesh has an ID from 1 to <paramref name="maxConnectedClusters"/> (255 or 511);
    /// 0 means "not in a mesh" and is refused here.
    /// </summary>
    public static ValidationResult ValidateClusterId(uint clusterId, uint maxConnectedClusters = DefaultMaxConnectedClusters)
    {
        var max = ValidateMaxConnectedClusters(maxConnectedClusters);
        if (!max.Ok)
        {
            return max;
        }

        if (clusterId == 0 || clusterId > maxConnectedClusters)
        {
            return ValidationResult.Fail(string.Create(
                CultureInfo.InvariantCulture,
                $"cluster ID {clusterId} is out of range: it must be between 1 and {maxConnectedClusters} (maxConnectedClusters={maxConnectedClusters}); 0 means not in a mesh"));
        }

        return ValidationResult.Success;
    }

    /// <summary>How far the cluster ID is shifted inside a 24-bit identity: 16 for 255 clusters, 15 for 511.</summary>
    public static int ClusterIdShift(uint maxConnectedClusters = DefaultMaxConnectedClusters) =>
        maxConnectedClusters == ExtendedMaxConnectedClusters ? 15 : 16;

    /// <summary>
    /// The identities <paramref name="clusterId"/> allocates: cluster ID in the top 8 (or 9) of 24 bits,
    /// local numbers from 256 up. 255 mode: <c>[c&lt;&lt;16 + 256, (c+1)&lt;&lt;16 - 1]</c>; 511 mode: shift 15.
    /// </summary>
    public static IdentityRange GetIdentityRange(uint clusterId, uint maxConnectedClusters = DefaultMaxConnectedClusters)
    {
        var shift = ClusterIdShift(maxConnectedClusters);
        var start = clusterId << shift;
        return new IdentityRange(start + MinimalAllocationIdentity, start + (1u << shift) - 1);
    }

    /// <summary>The cluster ID encoded in <paramref name="identity"/>'s top bits.</summary>
    public static uint ClusterIdOf(uint identity, uint maxConnectedClusters = DefaultMaxConnectedClusters) =>
        (identity & ((1u << IdentityBits) - 1)) >> ClusterIdShift(maxConnectedClusters);

    /// <summary>Reserved identities (host, world, health, ...) are below 256 and valid in every cluster.</summary>
    public static bool IsReservedIdentity(uint identity) => identity > 0 && identity < MinimalAllocationIdentity;

    /// <summary>Whether <paramref name="identity"/> was allocated by cluster <paramref name="clusterId"/>.</summary>
    public static ValidationResult ValidateIdentity(uint identity, uint clusterId, uint maxConnectedClusters = DefaultMaxConnectedClusters)
    {
        var range = GetIdentityRange(clusterId, maxConnectedClusters);
        return range.Contains(identity)
            ? ValidationResult.Success
            : ValidationResult.Fail(string.Create(
                CultureInfo.InvariantCulture,
                $"identity {identity} is outside cluster {clusterId}'s range {range} (maxConnectedClusters={maxConnectedClusters})"));
    }

    // The regex, spelled out: Go's '$' only matches at the very end, .NET's also before a final '\n'.
    private static bool MatchesNamePattern(string name)
    {
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                return false;
            }
        }

        return name[0] != '-' && name[^1] != '-';
    }
}
