using System.Runtime.Versioning;
using Federation.KindConfigs.Tests.Support;

namespace Federation.KindConfigs.Tests;

[SupportedOSPlatform("linux")] // bash scripts and file modes: the scripts run on Linux hosts
public sealed class ScriptTests : IDisposable
{
    private readonly string _fakeBin = Directory.CreateTempSubdirectory("kind-configs-tests-").FullName;

    public static TheoryData<string> Scripts() => ["kind-configs/up.sh", "kind-configs/down.sh"];

    public void Dispose() => Directory.Delete(_fakeBin, recursive: true);

    private static string Bash() => Tools.Require("bash", "the scripts are checked with bash -n and run up to their first check");

    [Theory]
    [MemberData(nameof(Scripts))]
    public async Task Script_passes_bash_n(string script)
    {
        var result = await Tools.RunAsync(Bash(), ["-n", Repo.File(script)]);

        Assert.True(result.ExitCode == 0, result.Describe($"bash -n {script}"));
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Script_is_an_executable_strict_bash_script(string script)
    {
        var path = Repo.File(script);
        var lines = File.ReadAllLines(path);

        Assert.Equal("#!/usr/bin/env bash", lines[0]);
        Assert.Contains("set -euo pipefail", lines);
        Assert.True((File.GetUnixFileMode(path) & UnixFileMode.UserExecute) != 0, $"{script} is not executable");
    }

    [Fact]
    public async Task Bash_n_rejects_a_broken_script()
    {
        // Guards the bash -n check: it must fail on a syntax error.
        var broken = Path.Combine(_fakeBin, "broken.sh");
        await File.WriteAllTextAsync(broken, "if true; then\n  echo unterminated\n");

        var result = await Tools.RunAsync(Bash(), ["-n", broken]);

        Assert.NotEqual(0, result.ExitCode);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("4")]
    [InlineData("two")]
    public async Task Up_refuses_a_cluster_count_other_than_2_or_3(string count)
    {
        var result = await Tools.RunAsync(Bash(), [Repo.File("kind-configs/up.sh"), count]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"must be 2 or 3, not '{count}'", result.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("docker", new string[0])]
    [InlineData("kind", new[] { "docker" })]
    [InlineData("kubectl", new[] { "docker", "kind" })]
    public async Task Up_names_the_first_missing_tool_and_stops(string missing, string[] present)
    {
        // A PATH with the basic utilities the script uses and fakes of the tools that are "installed".
        foreach (var tool in new[] { "dirname", "sed", "head", "seq", "grep", "cat" })
        {
            File.CreateSymbolicLink(Path.Combine(_fakeBin, tool), Tools.Require(tool, "coreutils/grep/sed"));
        }

        foreach (var tool in present)
        {
            var fake = Path.Combine(_fakeBin, tool);
            await File.WriteAllTextAsync(fake, "#!/bin/sh\necho \"fake $0 must not be run\" >&2\nexit 97\n");
            File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        }

        var result = await Tools.RunAsync(Bash(), [Repo.File("kind-configs/up.sh"), "2"], new Dictionary<string, string> { ["PATH"] = _fakeBin });

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"'{missing}' is not on PATH", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("must not be run", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Up_enables_each_cluster_with_the_name_and_id_of_its_overlay_and_connects_as_a_mesh()
    {
        var script = Repo.ReadText("kind-configs/up.sh");

        // Overlay I has cluster-name clusterI and cluster-id I (checked against the render in KustomizeOverlayTests).
        Assert.Contains(@"enable --context ""kind-cluster$i"" --cluster-name ""cluster$i"" --cluster-id ""$i""", script, StringComparison.Ordinal);
        Assert.Contains(@"--config ""$here/clusters/$name.yaml""", script, StringComparison.Ordinal);
        Assert.Contains(@"apply -k ""$here/manifests/overlays/$name""", script, StringComparison.Ordinal);
        Assert.Contains("--connection-mode mesh", script, StringComparison.Ordinal);
        Assert.Contains("kind load docker-image", script, StringComparison.Ordinal);
        foreach (var binary in Binaries.Projects.Keys)
        {
            Assert.Contains($"image_of {binary})", script, StringComparison.Ordinal);
        }
    }
}
