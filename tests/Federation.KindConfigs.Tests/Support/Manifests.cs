using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace Federation.KindConfigs.Tests.Support;

/// <summary>The overlays as <c>kubectl kustomize</c> renders them, and ways into the rendered objects.</summary>
internal static class Manifests
{
    public const string Namespace = "kube-system";

    private static readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyList<JsonNode>>>> Rendered = new();

    /// <summary>The objects of overlay <paramref name="cluster"/> (kind-configs/manifests/overlays/CLUSTER), rendered once per run.</summary>
    public static Task<IReadOnlyList<JsonNode>> RenderAsync(string cluster)
        => Rendered.GetOrAdd(cluster, name => new Lazy<Task<IReadOnlyList<JsonNode>>>(() => KustomizeAsync(Path.Combine(Repo.Overlays, name)))).Value;

    /// <summary>Runs <c>kubectl kustomize DIR</c>; fails the test when kubectl is missing or the render fails.</summary>
    public static async Task<IReadOnlyList<JsonNode>> KustomizeAsync(string directory)
    {
        var kubectl = Tools.Require("kubectl", "the kustomize renders are checked with the real kubectl kustomize");
        var result = await Tools.RunAsync(kubectl, ["kustomize", directory]);
        Assert.True(result.ExitCode == 0, result.Describe($"kubectl kustomize {directory}"));
        return Yaml.ParseAll(result.StandardOutput);
    }

    public static string Kind(this JsonNode obj) => obj["kind"].Str() ?? "";

    public static string Name(this JsonNode obj) => obj["metadata"]?["name"].Str() ?? "";

    public static string? NamespaceOf(this JsonNode obj) => obj["metadata"]?["namespace"].Str();

    public static JsonNode Single(this IReadOnlyList<JsonNode> objects, string kind, string name)
    {
        var found = objects.Where(o => o.Kind() == kind && o.Name() == name).ToList();
        Assert.True(found.Count == 1, $"expected one {kind} {name} in the render, found {found.Count}; the render has: {Describe(objects)}");
        return found[0];
    }

    public static string Describe(IEnumerable<JsonNode> objects) => string.Join(", ", objects.Select(o => $"{o.Kind()}/{o.Name()}"));

    /// <summary>The pod spec of a Deployment or DaemonSet.</summary>
    public static JsonNode PodSpec(this JsonNode workload)
        => workload["spec"]?["template"]?["spec"] ?? throw new InvalidOperationException($"{workload.Kind()}/{workload.Name()} has no pod template");

    public static IEnumerable<JsonNode> Workloads(this IReadOnlyList<JsonNode> objects)
        => objects.Where(o => o.Kind() is "Deployment" or "DaemonSet" or "StatefulSet" or "Job" or "Pod");

    /// <summary>Containers (and, with <paramref name="includeInit"/>, init containers) of a pod spec.</summary>
    public static IEnumerable<JsonNode> Containers(this JsonNode podSpec, bool includeInit = true)
        => includeInit ? podSpec["initContainers"].Items().Concat(podSpec["containers"].Items()) : podSpec["containers"].Items();

    public static JsonNode Container(this JsonNode workload, string name)
    {
        var found = workload.PodSpec().Containers().Where(c => c["name"].Str() == name).ToList();
        Assert.True(found.Count == 1, $"{workload.Kind()}/{workload.Name()} has {found.Count} containers named {name}");
        return found[0];
    }

    /// <summary>The value of <c>--flag=value</c> (or <c>--flag value</c>) in a container's args, or null.</summary>
    public static string? Flag(this JsonNode container, string flag)
    {
        var args = container["args"].Strings();
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i].StartsWith(flag + "=", StringComparison.Ordinal))
            {
                return args[i][(flag.Length + 1)..];
            }

            if (args[i] == flag)
            {
                return i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[i + 1] : "";
            }
        }

        return null;
    }

    /// <summary>Whether a Role/ClusterRole grants <paramref name="verb"/> on <paramref name="resource"/> of <paramref name="apiGroup"/>.</summary>
    public static bool Allows(this JsonNode role, string apiGroup, string resource, string verb)
        => role["rules"].Items().Any(rule =>
            rule["apiGroups"].Strings().Contains(apiGroup)
            && rule["resources"].Strings().Any(r => r == resource || r == "*")
            && rule["verbs"].Strings().Any(v => v == verb || v == "*"));
}
