using System.Diagnostics;
using System.Text.Json.Nodes;
using Federation.Cli.Lab;
using Federation.Cli.Tests.Infrastructure;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Etcd.Tests.TestSupport;

namespace Federation.Cli.Tests;

/// <summary>
/// The lab for real: <c>lab up</c> (etcds, lab API servers, clustermesh-apiservers, node agents in namespaces and cgroups,
/// WireGuard between nodes), the demo with its failover, and <c>lab down</c> leaving the machine as it found it.
/// </summary>
[Trait("Needs", "root")]
[Trait("Needs", "netns")]
[Trait("Needs", "bpf")]
[Trait("Needs", "etcd")]
[Collection(LabCollection.Name)]
public sealed class LabEndToEndTests
{
    private static string NewLabDirectory() => Path.Combine(Path.GetTempPath(), "federation-cli-e2e-" + Guid.NewGuid().ToString("N")[..8]);

    private static async Task<CliRun> RunAsync(string labDirectory, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        string[] full = args[0] == "lab" ? [.. args, "--lab-dir", labDirectory] : args;
        var code = await new CliApp(output, error, interactive: false).RunAsync(full);
        return new CliRun(code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Lab_up_runs_the_demo_with_failover_and_back_and_lab_down_leaves_nothing_behind()
    {
        var before = MachineSnapshot.Take();
        var dir = NewLabDirectory();
        try
        {
            var up = await RunAsync(dir, "lab", "up", "--clusters", "2", "--nodes", "2", "--wait-duration", "3m");
            Assert.True(up.ExitCode == 0, up.ToString());
            Assert.Contains("lab is up", up.Output, StringComparison.Ordinal);

            var state = LabState.TryLoad(dir)!;
            Assert.Equal(4, state.Clusters.Sum(c => c.Nodes.Count));
            Assert.All(state.Processes, p => Assert.True(LabSystem.IsAlive(p), $"{p.Name} runs"));

            // status through the kubeconfig the lab wrote, as a user would run it.
            var status = await RunAsync(dir, "status", "--context", "lab-cluster1,lab-cluster2", "-o", "json", "--kubeconfig", state.Kubeconfig);
            Assert.True(status.ExitCode == 0, status.ToString());
            var json = JsonNode.Parse(status.Output)!;
            Assert.True(json["ready"]!.GetValue<bool>(), status.Output);
            Assert.Equal(2, json["clusters"]![0]!["agentsConnected"]!.GetValue<int>());
            Assert.Equal("Ready", json["clusters"]![0]!["remotes"]![0]!["state"]!.GetValue<string>());

            var output = new StringWriter();
            var runner = new LabRunner(new CliApp(output, new StringWriter(), interactive: false), dir);
            var demo = await runner.DemoAsync(state, CancellationToken.None);
            var printed = output.ToString();

            // Affinity local: cluster1's own v1 only; then cluster2's v2 once the local pods are gone; then v1 again.
            Assert.Equal(["cluster1/v1"], demo.Before.Keys);
            Assert.True(demo.FailoverTime is not null, printed);
            Assert.Contains("cluster2/v2", demo.DuringFailover.Keys);
            Assert.DoesNotContain("cluster1/v1", demo.DuringFailover.Keys.Where(k => k != "failed").Skip(1));
            Assert.True(demo.RestoreTime is not null, printed);
            Assert.Equal(["cluster1/v1"], demo.AfterRestore.Keys);
            Assert.Contains("which cluster's catalogdetail answered", printed, StringComparison.Ordinal);
            Assert.Contains("node agents connected: 2/2", printed, StringComparison.Ordinal);

            // Between clusters the only path is WireGuard: cluster1's nodes route cluster2's pod CIDRs through their
            // tunnel interface, and the tunnel to the nodes that answered has handshaken.
            var node = state.Clusters[0].Nodes[0];
            foreach (var remote in state.Clusters[1].Nodes)
            {
                var route = LabSystem.Run("ip", ["-n", node.Namespace, "route", "show", remote.PodCidr]).Output;
                Assert.Contains($"dev {node.WireGuardInterface}", route, StringComparison.Ordinal);
            }

            var handshakes = LabSystem.Run("ip", ["netns", "exec", node.Namespace, "wg", "show", node.WireGuardInterface, "latest-handshakes"]).Output;
            Assert.Contains(handshakes.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Split('\t') is [_, var t] && t != "0");

            var down = await RunAsync(dir, "lab", "down");
            Assert.True(down.ExitCode == 0, down.ToString());
        }
        finally
        {
            await RunAsync(dir, "lab", "down");
        }

        await AssertNothingLeftAsync(before, dir);
    }

    [Fact]
    public async Task Interrupting_lab_up_removes_everything_it_made()
    {
        var before = MachineSnapshot.Take();
        var dir = NewLabDirectory();
        var cli = Path.Combine(AppContext.BaseDirectory, "clustermesh");
        var info = new ProcessStartInfo(cli) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "lab", "up", "--clusters", "2", "--nodes", "1", "--lab-dir", dir })
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // Interrupt once processes are running (the state file lists some).
            await Eventually.TrueAsync(() => LabState.TryLoad(dir)?.Processes.Count >= 3, TimeSpan.FromSeconds(60), "lab up started processes");
            // SIGTERM, handled like Ctrl-C: a child of the test host may inherit SIGINT as ignored (and .NET keeps it so).
            Assert.True(PosixSignal.Send(process.Id, PosixSignal.Term), "SIGTERM sent");
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(120)), "lab up exits after Ctrl-C");
            Assert.Equal(130, process.ExitCode);
            Assert.Contains("removing everything it made", await stdout, StringComparison.Ordinal);
            Assert.Contains("interrupted", await stderr, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            await RunAsync(dir, "lab", "down");
        }

        await AssertNothingLeftAsync(before, dir);
    }

    [Fact]
    public async Task Lab_up_refuses_clearly_without_root()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "clustermesh");
        var info = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--", cli, "lab", "up", "--lab-dir", NewLabDirectory() })
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["HOME"] = "/tmp";
        info.Environment["DOTNET_CLI_HOME"] = "/tmp";
        using var process = Process.Start(info)!;
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("error: clustermesh lab up needs root", stderr, StringComparison.Ordinal);
        Assert.Contains("hint: run it as root", stderr, StringComparison.Ordinal);
    }

    private static async Task AssertNothingLeftAsync(MachineSnapshot before, string dir)
    {
        // Killed processes can take a moment to be reaped.
        MachineSnapshot after = MachineSnapshot.Take();
        for (var i = 0; i < 50 && !after.Equals(before); i++)
        {
            await Task.Delay(200);
            after = MachineSnapshot.Take();
        }

        Assert.Equal(before.Namespaces, after.Namespaces);
        Assert.Equal(before.Cgroups, after.Cgroups);
        Assert.Equal(before.BpfPins, after.BpfPins);
        Assert.Equal(before.WireGuardSockets, after.WireGuardSockets);
        Assert.Equal(before.LabProcesses, after.LabProcesses);
        Assert.False(Directory.Exists(dir), $"{dir} is removed");
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LabCollection
{
    public const string Name = "lab (one at a time: it owns the fedlab names)";
}

/// <summary>What a lab can leave on the machine: namespaces, cgroups, bpffs pins, WireGuard sockets, and lab processes.</summary>
internal sealed record MachineSnapshot(string Namespaces, string Cgroups, string BpfPins, string WireGuardSockets, string LabProcesses)
{
    private static readonly string[] Programs = ["etcd", "node-agent", "clustermesh-apiserver", "Federation.Lab.ApiServer", "lab-demo-app", "wireguard-go"];

    public static MachineSnapshot Take()
    {
        static string List(IEnumerable<string> items) => string.Join('\n', items.Order(StringComparer.Ordinal));
        // Only what carries the lab's names: other test assemblies create and remove their own namespaces, cgroups and
        // pins at the same time.
        var namespaces = Directory.Exists("/var/run/netns") ? Directory.GetFiles("/var/run/netns").Select(Path.GetFileName).OfType<string>().Where(n => n.StartsWith(LabRunner.Prefix, StringComparison.Ordinal)) : [];
        var cgroups = Directory.EnumerateDirectories(LabSystem.CgroupRoot, LabRunner.Prefix + "*", SearchOption.TopDirectoryOnly);
        var pinRoot = Path.Combine(LabSystem.BpfFsRoot, LabRunner.Prefix);
        var pins = Directory.Exists(pinRoot) ? Directory.EnumerateFileSystemEntries(pinRoot, "*", SearchOption.AllDirectories).Append(pinRoot) : [];
        var sockets = Directory.Exists("/var/run/wireguard") ? Directory.GetFiles("/var/run/wireguard", "wg-c*") : [];
        var processes = new List<string>();
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out _))
            {
                continue;
            }

            try
            {
                var comm = File.ReadAllText(Path.Combine(proc, "comm")).Trim();
                var stat = File.ReadAllText(Path.Combine(proc, "stat"));
                var zombie = stat[(stat.LastIndexOf(')') + 2)] == 'Z';
                if (!zombie && Programs.Any(p => p.StartsWith(comm, StringComparison.Ordinal)))
                {
                    // Only processes of a lab: their command line names a lab directory or a lab interface.
                    var cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
                    if (cmdline.Contains("federation-cli-e2e-", StringComparison.Ordinal) || System.Text.RegularExpressions.Regex.IsMatch(cmdline, @"\bwg-c[0-9]+n[0-9]+\b"))
                    {
                        processes.Add($"{Path.GetFileName(proc)} {cmdline}");
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        return new MachineSnapshot(List(namespaces), List(cgroups), List(pins), List(sockets), List(processes));
    }
}
