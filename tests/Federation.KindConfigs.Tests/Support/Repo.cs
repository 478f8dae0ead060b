namespace Federation.KindConfigs.Tests.Support;

/// <summary>Paths of the repository the tests run in (found from the test binary, not the working directory).</summary>
internal static class Repo
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    /// <summary>The folder holding Federation.sln.</summary>
    public static string Root => LazyRoot.Value;

    public static string KindConfigs => Path.Combine(Root, "kind-configs");

    public static string Clusters => Path.Combine(KindConfigs, "clusters");

    public static string Overlays => Path.Combine(KindConfigs, "manifests", "overlays");

    public static string Docker => Path.Combine(KindConfigs, "docker");

    /// <summary>The mesh's clusters: one kind config and one overlay each, cluster1..cluster3.</summary>
    public static IReadOnlyList<string> ClusterNames { get; } = ["cluster1", "cluster2", "cluster3"];

    public static string File(string relativePath) => Path.Combine(Root, relativePath);

    public static string ReadText(string relativePath)
    {
        var path = File(relativePath);
        Assert.True(System.IO.File.Exists(path), $"{relativePath} does not exist under {Root}");
        return System.IO.File.ReadAllText(path);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Federation.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no folder with Federation.sln above {AppContext.BaseDirectory}");
    }
}
