using System.Text.RegularExpressions;
using Federation.KindConfigs.Tests.Support;

namespace Federation.KindConfigs.Tests;

public sealed partial class BinaryFlagTests
{
    public static TheoryData<string> Clusters() => [.. Repo.ClusterNames];

    /// <summary>The binary a manifest container runs, with its args.</summary>
    private static async Task<List<(string Where, string Binary, IReadOnlyList<string> Args)>> InvocationsAsync(string cluster)
    {
        var invocations = new List<(string, string, IReadOnlyList<string>)>();
        foreach (var workload in (await Manifests.RenderAsync(cluster)).Workloads())
        {
            foreach (var container in workload.PodSpec().Containers())
            {
                var command = container["command"].Strings();
                if (command.Count > 0 && command[0].StartsWith("/app/", StringComparison.Ordinal))
                {
                    invocations.Add(($"{workload.Name()}/{container["name"].Str()}", command[0]["/app/".Length..], [.. command.Skip(1), .. container["args"].Strings()]));
                }
            }
        }

        return invocations;
    }

    [Theory]
    [MemberData(nameof(Clusters))]
    public async Task Every_flag_the_manifests_pass_is_parsed_by_that_binary(string cluster)
    {
        var invocations = await InvocationsAsync(cluster);
        Assert.Equal(["clustermesh-apiserver", "node-agent"], invocations.Select(i => i.Binary).Order(StringComparer.Ordinal));

        var unknown = new List<string>();
        foreach (var (where, binary, args) in invocations)
        {
            Assert.True(Binaries.FlagParsers.TryGetValue(binary, out var parser), $"{where}: no flag parser known for {binary}");
            var source = Repo.ReadText(parser);
            foreach (var arg in args)
            {
                Assert.StartsWith("--", arg, StringComparison.Ordinal);
                var flag = arg.Split('=', 2)[0];
                if (!source.Contains($"case \"{flag}\"", StringComparison.Ordinal))
                {
                    unknown.Add($"{where}: {flag} is not a flag of {binary} ({parser})");
                }
            }
        }

        Assert.True(unknown.Count == 0, Tools.Lines(unknown));
    }

    [Theory]
    [MemberData(nameof(Clusters))]
    public async Task Every_flag_the_usage_line_requires_is_passed(string cluster)
    {
        var missing = new List<string>();
        foreach (var (where, binary, args) in await InvocationsAsync(cluster))
        {
            var required = RequiredFlags(Repo.ReadText(Binaries.FlagParsers[binary]));
            Assert.NotEmpty(required);
            var passed = args.Select(a => a.Split('=', 2)[0]).ToHashSet();
            missing.AddRange(required.Where(flag => !passed.Contains(flag)).Select(flag => $"{where}: {binary} requires {flag}"));
        }

        Assert.True(missing.Count == 0, Tools.Lines(missing));
    }

    [Fact]
    public void The_flag_checks_read_the_real_parsers()
    {
        // Guards the checks above: they must see the parsers' cases and the usage's required flags.
        var apiserver = Repo.ReadText(Binaries.FlagParsers["clustermesh-apiserver"]);
        var agent = Repo.ReadText(Binaries.FlagParsers["node-agent"]);

        Assert.Contains("case \"--etcd-endpoints\"", apiserver, StringComparison.Ordinal);
        Assert.DoesNotContain("case \"--node-name\"", apiserver, StringComparison.Ordinal);
        Assert.Contains("case \"--cgroup\"", agent, StringComparison.Ordinal);
        Assert.Equal(["--cluster-name", "--cluster-id", "--etcd-endpoints"], RequiredFlags(apiserver));
        Assert.Equal(["--node-name", "--cluster-name", "--cluster-id", "--cgroup"], RequiredFlags(agent));
    }

    /// <summary>The flags of the first usage line before its first <c>[</c> (<c>usage: NAME --a X --b Y [options]</c>).</summary>
    private static List<string> RequiredFlags(string parserSource)
    {
        var usage = UsageLine().Match(parserSource);
        Assert.True(usage.Success, "the parser has no 'usage:' line");
        var line = usage.Groups[1].Value;
        var bracket = line.IndexOf('[', StringComparison.Ordinal);
        return [.. FlagToken().Matches(bracket < 0 ? line : line[..bracket]).Select(m => m.Value)];
    }

    [GeneratedRegex(@"usage: \S+ (.*)")]
    private static partial Regex UsageLine();

    [GeneratedRegex(@"--[a-z0-9-]+")]
    private static partial Regex FlagToken();
}
