using System.Text.Json;
using System.Text.RegularExpressions;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Models;

namespace Federation.ClusterMesh.ApiServer.Identities;

/// <summary>
/// How Cilium forms the security labels of a pod (pkg/k8s/utils, pkg/labelsfilter default prefixes) and which
/// namespaces ClusterMesh exports (annotation <c>clustermesh.cilium.io/global</c>).
/// </summary>
internal static class IdentityLabelRules
{
    public const string NamespaceLabelPrefix = "io.cilium.k8s.namespace.labels.";
    public const string PodNamespaceLabel = "io.kubernetes.pod.namespace";
    public const string ServiceAccountLabel = "io.cilium.k8s.policy.serviceaccount";
    public const string GlobalNamespaceAnnotation = "clustermesh.cilium.io/global";

    // Cilium's default identity-relevant label prefixes (pkg/labelsfilter/filter.go, defaultLabelPrefixCfg): regexes that
    // match at the start of the key; a label is kept unless an ignore rule matches and no include rule matches a longer part.
    private static readonly (Regex Pattern, bool Ignore)[] DefaultPrefixes =
    [
        (new Regex(Regex.Escape(PodNamespaceLabel), RegexOptions.CultureInvariant), false),
        (new Regex(Regex.Escape("io.cilium.k8s.namespace.labels"), RegexOptions.CultureInvariant), false),
        (new Regex(Regex.Escape("app.kubernetes.io"), RegexOptions.CultureInvariant), false),
        (new Regex(Regex.Escape(IdentityLabels.ClusterLabelKey), RegexOptions.CultureInvariant), false),
        (new Regex(@"io\.kubernetes", RegexOptions.CultureInvariant), true),
        (new Regex(@"kubernetes\.io", RegexOptions.CultureInvariant), true),
        (new Regex(Regex.Escape("statefulset.kubernetes.io/pod-name"), RegexOptions.CultureInvariant), true),
        (new Regex(Regex.Escape("apps.kubernetes.io/pod-index"), RegexOptions.CultureInvariant), true),
        (new Regex(Regex.Escape("batch.kubernetes.io/job-completion-index"), RegexOptions.CultureInvariant), true),
        (new Regex(@".*beta\.kubernetes\.io", RegexOptions.CultureInvariant), true),
        (new Regex(@"k8s\.io", RegexOptions.CultureInvariant), true),
        (new Regex("pod-template-generation", RegexOptions.CultureInvariant), true),
        (new Regex("pod-template-hash", RegexOptions.CultureInvariant), true),
        (new Regex("controller-revision-hash", RegexOptions.CultureInvariant), true),
        (new Regex("annotation.*", RegexOptions.CultureInvariant), true),
        (new Regex("etcd_node", RegexOptions.CultureInvariant), true),
    ];

    /// <summary>Whether Cilium's default label filter keeps a <c>k8s:</c> label with this key in the identity.</summary>
    public static bool IsIdentityRelevant(string key)
    {
        int included = 0, ignored = 0;
        foreach (var (pattern, ignore) in DefaultPrefixes)
        {
            var match = pattern.Match(key);
            if (!match.Success || match.Index != 0)
            {
                continue;
            }

            var length = match.Length;
            if (ignore)
            {
                ignored = ignored == 0 ? length : Math.Min(ignored, length);
            }
            else
            {
                included = Math.Max(included, length);
            }
        }

        return ignored == 0 || included > ignored;
    }

    /// <summary>The identity labels of a pod in <paramref name="ns"/> of cluster <paramref name="cluster"/>.</summary>
    public static IdentityLabels ForPod(Pod pod, Namespace ns, string cluster)
    {
        var labels = new List<IdentityLabel>();
        foreach (var (key, value) in pod.Metadata.Labels ?? new Dictionary<string, string>())
        {
            labels.Add(new IdentityLabel(IdentityLabels.KubernetesSource, key, value));
        }

        foreach (var (key, value) in ns.Metadata.Labels ?? new Dictionary<string, string>())
        {
            labels.Add(new IdentityLabel(IdentityLabels.KubernetesSource, NamespaceLabelPrefix + key, value));
        }

        // Set by Cilium itself: they override pod labels of the same key.
        labels.Add(new IdentityLabel(IdentityLabels.KubernetesSource, PodNamespaceLabel, pod.Metadata.Namespace ?? string.Empty));
        if (ServiceAccountOf(pod) is { Length: > 0 } serviceAccount)
        {
            labels.Add(new IdentityLabel(IdentityLabels.KubernetesSource, ServiceAccountLabel, serviceAccount));
        }

        labels.Add(new IdentityLabel(IdentityLabels.KubernetesSource, IdentityLabels.ClusterLabelKey, cluster));
        return IdentityLabels.Create(labels.Where(l => IsIdentityRelevant(l.Key)));
    }

    /// <summary><c>spec.serviceAccountName</c> (not modelled by the Pod type, so read from its extra fields).</summary>
    public static string? ServiceAccountOf(Pod pod) =>
        pod.Spec?.ExtensionData is { } extra && extra.TryGetValue("serviceAccountName", out var element) && element.ValueKind == JsonValueKind.String
            ? element.GetString()
            : null;

    /// <summary>
    /// Whether a namespace exports its pods: ClusterMesh's default is global; <c>clustermesh.cilium.io/global: "false"</c>
    /// opts out, <c>"true"</c> opts in. Any other value: null (the caller warns and uses the default).
    /// </summary>
    public static bool? IsGlobal(Namespace ns)
    {
        if (ns.Metadata.Annotations is not { } annotations || !annotations.TryGetValue(GlobalNamespaceAnnotation, out var value))
        {
            return true;
        }

        return value.Trim().ToLowerInvariant() switch
        {
            "true" => true,
            "false" => false,
            _ => null,
        };
    }
}
