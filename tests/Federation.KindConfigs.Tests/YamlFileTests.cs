using Federation.KindConfigs.Tests.Support;

namespace Federation.KindConfigs.Tests;

public sealed class YamlFileTests
{
    public static TheoryData<string> YamlFiles() => [.. RelativeYamlPaths()];

    private static List<string> RelativeYamlPaths() =>
    [
        .. Directory.GetFiles(Repo.KindConfigs, "*.*", SearchOption.AllDirectories)
            .Where(p => p.EndsWith(".yaml", StringComparison.Ordinal) || p.EndsWith(".yml", StringComparison.Ordinal))
            .Select(p => Path.GetRelativePath(Repo.Root, p))
            .Order(StringComparer.Ordinal),
    ];

    [Fact]
    public void Kind_configs_hold_the_cluster_configs_the_base_and_one_overlay_per_cluster()
    {
        var files = RelativeYamlPaths().ToHashSet();
        var expected = Repo.ClusterNames.SelectMany(c => new[]
            {
                $"kind-configs/clusters/{c}.yaml",
                $"kind-configs/manifests/overlays/{c}/kustomization.yaml",
            })
            .Append("kind-configs/manifests/base/kustomization.yaml");
        var missing = expected.Where(f => !files.Contains(f)).ToList();
        Assert.True(missing.Count == 0, $"missing: {string.Join(", ", missing)}");
    }

    [Theory]
    [MemberData(nameof(YamlFiles))]
    public void Every_yaml_file_parses_into_objects_with_a_kind(string relativePath)
    {
        var documents = Yaml.ParseAll(File.ReadAllText(Repo.File(relativePath)));

        Assert.NotEmpty(documents);
        foreach (var document in documents)
        {
            Assert.False(string.IsNullOrEmpty(document["kind"].Str()), $"{relativePath}: a document without 'kind': {document.ToJsonString()}");
            Assert.False(string.IsNullOrEmpty(document["apiVersion"].Str()), $"{relativePath}: {document["kind"].Str()} without 'apiVersion'");
        }
    }

    [Fact]
    public void The_yaml_reader_rejects_broken_yaml()
    {
        // Guards the check above: a reader that accepted anything would make it pass for any file.
        Assert.ThrowsAny<YamlDotNet.Core.YamlException>(() => Yaml.ParseAll("kind: Cluster\nnodes:\n  - role: [control-plane\n"));
    }
}
