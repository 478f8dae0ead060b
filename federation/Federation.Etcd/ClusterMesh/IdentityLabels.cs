using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Unicode;

namespace Federation.Etcd.ClusterMesh;

/// <summary>One security label, <c>source:key=value</c> (e.g. <c>k8s:app=web</c>).</summary>
public sealed record IdentityLabel(string Source, string Key, string Value)
{
    public override string ToString() => $"{Source}:{Key}={Value}";
}

/// <summary>
/// The label set of a security identity, as stored in <c>cilium/state/identities/v1/id/&lt;id&gt;</c>:
/// <c>source:key=value;</c> per label, sorted by key (byte-wise), each ending in <c>;</c>
/// (e.g. <c>k8s:app=baz;k8s:io.cilium.k8s.policy.cluster=cluster3;</c>). Keys are unique.
/// </summary>
public sealed class IdentityLabels : IEquatable<IdentityLabels>
{
    /// <summary>The label naming the cluster that allocated the identity.</summary>
    public const string ClusterLabelKey = "io.cilium.k8s.policy.cluster";

    /// <summary>The source of labels taken from Kubernetes.</summary>
    public const string KubernetesSource = "k8s";

    private IdentityLabels(ImmutableArray<IdentityLabel> labels) => Labels = labels;

    public static IdentityLabels Empty { get; } = new(ImmutableArray<IdentityLabel>.Empty);

    /// <summary>The labels in their stored order: sorted by key, byte-wise.</summary>
    public ImmutableArray<IdentityLabel> Labels { get; }

    /// <summary>The value of <c>k8s:io.cilium.k8s.policy.cluster</c>, or null when the label is missing.</summary>
    public string? Cluster => TryGet(ClusterLabelKey, out var label) && label.Source == KubernetesSource ? label.Value : null;

    /// <summary>Builds a label set; a key given twice keeps the last label (as Cilium's label map does).</summary>
    public static IdentityLabels Create(IEnumerable<IdentityLabel> labels)
    {
        var byKey = new Dictionary<string, IdentityLabel>(StringComparer.Ordinal);
        foreach (var label in labels)
        {
            byKey[label.Key] = label;
        }

        var sorted = byKey.Values.ToArray();
        Array.Sort(sorted, static (a, b) => GoStringOrder.Instance.Compare(a.Key, b.Key));
        return new IdentityLabels([.. sorted]);
    }

    /// <summary>
    /// Parses the stored form. Every label needs a source, a ':' and an '=', and must end in ';'.
    /// Labels need not be sorted (they are sorted on the way in); duplicate keys keep the last one.
    /// </summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out IdentityLabels? labels, [NotNullWhen(false)] out string? error)
    {
        labels = null;
        if (text.Length == 0)
        {
            error = "identity labels are empty";
            return false;
        }

        if (text[^1] != ';')
        {
            error = "identity labels must end in ';'";
            return false;
        }

        var parsed = new List<IdentityLabel>();
        foreach (var part in text[..^1].Split(';'))
        {
            var colon = part.IndexOf(':', StringComparison.Ordinal);
            var equals = colon < 0 ? -1 : part.IndexOf('=', colon + 1);
            if (colon <= 0 || equals < 0 || equals == colon + 1)
            {
                error = $"identity label \"{part}\" is not of the form source:key=value";
                return false;
            }

            parsed.Add(new IdentityLabel(part[..colon], part[(colon + 1)..equals], part[(equals + 1)..]));
        }

        labels = Create(parsed);
        error = null;
        return true;
    }

    /// <summary>Parses the UTF-8 bytes of an etcd value (invalid UTF-8 is an error).</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out IdentityLabels? labels, [NotNullWhen(false)] out string? error)
    {
        labels = null;
        if (!Utf8.IsValid(utf8))
        {
            error = "identity labels are not valid UTF-8";
            return false;
        }

        return TryParse(Encoding.UTF8.GetString(utf8), out labels, out error);
    }

    public bool TryGet(string key, [NotNullWhen(true)] out IdentityLabel? label)
    {
        foreach (var candidate in Labels)
        {
            if (candidate.Key == key)
            {
                label = candidate;
                return true;
            }
        }

        label = null;
        return false;
    }

    /// <summary>A copy with the cluster label set to <paramref name="cluster"/>.</summary>
    public IdentityLabels WithCluster(string cluster) =>
        Create(Labels.Append(new IdentityLabel(KubernetesSource, ClusterLabelKey, cluster)));

    /// <summary>The stored form: <c>source:key=value;</c> per label in key order.</summary>
    public string Format()
    {
        var builder = new StringBuilder();
        foreach (var label in Labels)
        {
            builder.Append(label.Source).Append(':').Append(label.Key).Append('=').Append(label.Value).Append(';');
        }

        return builder.ToString();
    }

    public byte[] ToUtf8Bytes() => Encoding.UTF8.GetBytes(Format());

    public override string ToString() => Format();

    public bool Equals(IdentityLabels? other) => other is not null && Labels.SequenceEqual(other.Labels);

    public override bool Equals(object? obj) => Equals(obj as IdentityLabels);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var label in Labels)
        {
            hash.Add(label);
        }

        return hash.ToHashCode();
    }
}
