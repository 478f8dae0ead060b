namespace Federation.ClusterMesh.ApiServer.Tests.Services;

/// <summary>The Cilium golden files in shared/fixtures/cilium, found by walking up from the test binaries.</summary>
internal static class CiliumFixtures
{
    private static readonly Lazy<string> Root = new(Find);

    /// <summary>The directory of one scenario, e.g. "operator-servicesync".</summary>
    public static string Scenario(string name)
    {
        var path = Path.Combine(Root.Value, name);
        return Directory.Exists(path) ? path : throw new DirectoryNotFoundException($"Cilium fixture scenario '{name}' is missing under {Root.Value}");
    }

    public static string Read(string scenario, string relativePath) => File.ReadAllText(Path.Combine(Scenario(scenario), relativePath));

    /// <summary>Lines of a <c>key&lt;TAB&gt;value</c> expectation file, without the trailing newline.</summary>
    public static string ReadListing(string scenario, string relativePath) => Read(scenario, relativePath).TrimEnd('\n');

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "fixtures", "cilium");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException(
            $"shared/fixtures/cilium was not found in {AppContext.BaseDirectory} or any parent directory; these tests compare against Cilium's golden files and cannot run without them");
    }
}
