using System.CommandLine;
using Federation.Cli.Lab;
using Federation.Cli.Mesh;
using Spectre.Console;

namespace Federation.Cli;

public sealed partial class CliApp
{
    private readonly Option<string> _labDir = new("--lab-dir")
    {
        Description = "where the lab keeps its state, certificates, etcd data and logs ($FEDERATION_LAB_DIR, default /var/lib/federation-lab)",
        DefaultValueFactory = _ => LabRunner.DefaultDirectory,
        Recursive = true,
    };

    private Command LabCommand()
    {
        var lab = new Command("lab", "a local lab of clusters on this machine (root): real etcds, lab Kubernetes API servers, node namespaces") { _labDir };
        lab.Subcommands.Add(LabUpCommand());
        lab.Subcommands.Add(LabDemoCommand());
        lab.Subcommands.Add(LabDownCommand());
        lab.Subcommands.Add(LabStatusCommand());
        var kubeconfig = new Command("kubeconfig", "print the path of the lab's kubeconfig (export KUBECONFIG=$(clustermesh lab kubeconfig))");
        kubeconfig.SetAction(Guard((parse, _) =>
        {
            var state = LoadLab(parse);
            Output.WriteLine(state.Kubeconfig);
            return Task.FromResult(0);
        }));
        lab.Subcommands.Add(kubeconfig);
        return lab;
    }

    private Command LabUpCommand()
    {
        var clusters = new Option<int>("--clusters") { Description = "number of clusters (2–9)", DefaultValueFactory = _ => 2 };
        var nodes = new Option<int>("--nodes") { Description = "nodes per cluster (1–9)", DefaultValueFactory = _ => 2 };
        var encryption = new Option<string>("--encryption") { Description = "wireguard (default): cross-cluster pod traffic through WireGuard; none: plain routes", DefaultValueFactory = _ => "wireguard" };
        encryption.AcceptOnlyFromAmong("wireguard", "none");
        var timeout = new Option<string>("--wait-duration") { Description = "how long to wait for the mesh to be ready", DefaultValueFactory = _ => "4m" };
        var command = new Command("up", "start a lab: per cluster etcd, Kubernetes API, clustermesh-apiserver and node agents; enable and connect them") { clusters, nodes, encryption, timeout };
        command.SetAction(Guard(async (parse, ct) =>
        {
            var runner = new LabRunner(this, parse.GetValue(_labDir)!);
            var state = await runner.UpAsync(new LabUpOptions
            {
                Clusters = parse.GetValue(clusters),
                Nodes = parse.GetValue(nodes),
                Encryption = parse.GetValue(encryption)!,
                ReadyTimeout = ParseDuration("--wait-duration", parse.GetValue(timeout)!),
            }, ct);
            Console.WriteLine();
            Console.MarkupLine("[bold]The lab is up.[/] Use it:");
            Console.MarkupLine($"  export KUBECONFIG={Markup.Escape(state.Kubeconfig)}");
            Console.MarkupLine($"  kubectl --context {Markup.Escape(state.Clusters[0].Context)} get nodes");
            Console.MarkupLine($"  clustermesh status --context {Markup.Escape(string.Join(',', state.Clusters.Select(c => c.Context)))}");
            Console.MarkupLine("  clustermesh lab demo      # the product-catalog demo with failover");
            Console.MarkupLine("  clustermesh lab down      # remove everything");
            return 0;
        }));
        return command;
    }

    private Command LabDemoCommand()
    {
        var command = new Command("demo", "run the product-catalog demo on the lab: global services, affinity local, failover to another cluster and back");
        command.SetAction(Guard(async (parse, ct) =>
        {
            var state = LoadLab(parse);
            var result = await new LabRunner(this, state.Directory).DemoAsync(state, ct);
            return result.FailoverTime is not null && result.RestoreTime is not null ? 0 : 1;
        }));
        return command;
    }

    private Command LabDownCommand()
    {
        var command = new Command("down", "remove every namespace, cgroup, bpffs pin, process and folder of the lab (also after a crash)");
        command.SetAction(Guard(async (parse, ct) =>
        {
            var dir = parse.GetValue(_labDir)!;
            LabState? state = null;
            try
            {
                state = LabState.TryLoad(dir);
            }
            catch (CliException e)
            {
                await Error.WriteLineAsync($"warning: {e.Message}; sweeping by name");
            }

            return await new LabRunner(this, dir).DownAsync(state, ct);
        }));
        return command;
    }

    private Command LabStatusCommand()
    {
        var command = new Command("status", "the lab's processes, then clustermesh status of every cluster");
        command.SetAction(Guard(async (parse, ct) =>
        {
            var state = LoadLab(parse);
            var table = new Table().Border(TableBorder.Simple).AddColumns("process", "pid", "state", "log");
            foreach (var p in state.Processes)
            {
                table.AddRow(Markup.Escape(p.Name), p.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), LabSystem.IsAlive(p) ? "[green]running[/]" : "[red]gone[/]", Markup.Escape(p.Log));
            }

            Console.MarkupLine($"lab {Markup.Escape(state.Directory)}: {state.Clusters.Count} clusters, {state.Clusters.Sum(c => c.Nodes.Count)} nodes, encryption {state.Encryption}{(state.Ready ? string.Empty : " [red](lab up did not finish)[/]")}");
            Console.Write(table);
            using var contexts = KubeContexts.Load(state.Kubeconfig);
            var code = await StatusAsync(contexts, [.. state.Clusters.Select(c => c.Context)], wait: false, TimeSpan.Zero, json: false, ct);
            return state.Processes.All(LabSystem.IsAlive) ? code : 1;
        }));
        return command;
    }

    private LabState LoadLab(ParseResult parse)
    {
        var dir = parse.GetValue(_labDir)!;
        return LabState.TryLoad(dir) ?? throw new CliException($"no lab in {dir}", "start one with: clustermesh lab up");
    }
}
