using Federation.KindConfigs.Tests.Support;

namespace Federation.KindConfigs.Tests;

public sealed class ReadmeTests
{
    [Fact]
    public void Readme_says_docker_and_kind_are_needed_and_how_to_run_it()
    {
        var readme = Repo.ReadText("kind-configs/README.md");

        Assert.Contains("Docker", readme, StringComparison.Ordinal);
        Assert.Contains("kind", readme, StringComparison.Ordinal);
        Assert.Contains("kind-configs/up.sh", readme, StringComparison.Ordinal);
        Assert.Contains("kind-configs/down.sh", readme, StringComparison.Ordinal);
        Assert.Contains("dotnet test tests/Federation.KindConfigs.Tests", readme, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readme_names_every_secret_the_pods_mount()
    {
        // The Secrets are the contract with `clustermesh enable` and `connect`, which create them.
        var readme = Repo.ReadText("kind-configs/README.md");
        var secrets = (await Manifests.RenderAsync(Repo.ClusterNames[0])).Workloads()
            .SelectMany(w => w.PodSpec()["volumes"].Items())
            .Select(v => v["secret"]?["secretName"].Str())
            .OfType<string>()
            .Distinct()
            .ToList();

        Assert.Equal(4, secrets.Count);
        Assert.All(secrets, secret => Assert.Contains($"`{secret}`", readme, StringComparison.Ordinal));
    }
}
