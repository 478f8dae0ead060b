using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Federation.Cli.Mesh;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Models;
using Spectre.Console;

namespace Federation.Cli.Lab;

/// <summary>One answer of the demo application, as the client printed it.</summary>
public sealed record DemoAnswer(int Seq, int Status, double Milliseconds, string? Error, string? FrontendCluster, string? CatalogCluster, string? DetailCluster, string? DetailVersion, string? DetailPod, TimeSpan At)
{
    public bool Ok => Status == 200 && DetailCluster is not null;

    public string Detail => DetailCluster is null ? "failed" : $"{DetailCluster}/{DetailVersion}";
}

/// <summary>What <c>lab demo</c> measured; the tests read it.</summary>
public sealed record DemoResult(
    IReadOnlyDictionary<string, int> Before,
    IReadOnlyDictionary<string, int> DuringFailover,
    IReadOnlyDictionary<string, int> AfterRestore,
    TimeSpan? FailoverTime,
    TimeSpan? RestoreTime,
    int FailedDuringFailover)
{
    /// <summary>With three or more clusters: the answers seen from cluster3, which runs no catalogdetail.</summary>
    public IReadOnlyDictionary<string, int>? FromClusterWithoutBackends { get; init; }
}

public sealed partial class LabRunner
{
    public const string DemoNamespace = "demo";
    private const int AppPort = 8080;
    private const int ClientHost = 250;

    /// <summary>
    /// The product-catalog demo: frontend → productcatalog → catalogdetail, catalogdetail v1 in cluster1 and v2 in
    /// cluster2 as a global service with affinity local. Requests from cluster1 are answered by v1; with cluster1's
    /// catalogdetail pods gone they fail over to v2 in cluster2 (through WireGuard), and come back when the pods return.
    /// </summary>
    public async Task<DemoResult> DemoAsync(LabState state, CancellationToken ct)
    {
        RequireRoot("demo");
        if (!state.Ready)
        {
            throw new CliException("the lab is not up", "run: clustermesh lab up");
        }

        var binaries = LabBinaries.Locate();
        using var contexts = KubeContexts.Load(state.Kubeconfig);
        var c1 = state.Clusters[0];
        var c2 = state.Clusters[1];

        Step("deploying the product catalog: frontend -> productcatalog -> catalogdetail (v1 in cluster1, v2 in cluster2)");
        var vips = new Dictionary<(string Cluster, string Service), string>();
        foreach (var cluster in state.Clusters)
        {
            var client = contexts.Client(cluster.Context);
            await EnsureNamespaceAsync(client, ct);
            foreach (var service in new[] { "frontend", "productcatalog", "catalogdetail" })
            {
                vips[(cluster.Name, service)] = await EnsureServiceAsync(client, service, ct);
            }

            // The 'service global' command's code path: global everywhere, local backends first.
            foreach (var service in new[] { "productcatalog", "catalogdetail" })
            {
                await client.PatchAsync<Service>(DemoNamespace, service, PatchType.Merge,
                    """{"metadata":{"annotations":{"service.cilium.io/global":"true","service.cilium.io/affinity":"local"}}}""", ct);
            }
        }

        // Remove pods a previous demo run left (this one starts them again).
        await StopDemoPodsAsync(state, contexts, _ => true, ct);
        foreach (var cluster in state.Clusters)
        {
            var first = cluster.Nodes[0];
            var last = cluster.Nodes[^1];
            await StartPodAsync(state, contexts, binaries, cluster, first, "frontend-1", "frontend", "v1", 10, vips[(cluster.Name, "productcatalog")], ct);
            await StartPodAsync(state, contexts, binaries, cluster, last, "productcatalog-1", "productcatalog", "v1", 11, vips[(cluster.Name, "catalogdetail")], ct);
        }

        await StartCatalogDetailAsync(state, contexts, binaries, c1, "v1", ct);
        await StartCatalogDetailAsync(state, contexts, binaries, c2, "v2", ct);
        state.DemoDeployed = true;
        state.Save();

        var client1 = c1.Nodes[0];
        AddPodAddress(client1, PodIp(client1, ClientHost));
        var url = $"http://{vips[(c1.Name, "frontend")]}/";

        Step($"waiting until cluster1's frontend ({url}) answers through the whole chain");
        await WaitUntilAsync("the demo application", async () => (await RequestsAsync(binaries, client1, url, 3, 100, ct)).All(a => a.Ok), TimeSpan.FromSeconds(90), ct);

        Step("20 requests from a client in cluster1 (affinity local: catalogdetail should answer from cluster1)");
        var before = await RequestsAsync(binaries, client1, url, 20, 50, ct);
        PrintAnswers(before);

        IReadOnlyDictionary<string, int>? fromOther = null;
        if (state.Clusters.Count >= 3)
        {
            var c3 = state.Clusters[2];
            var client3 = c3.Nodes[0];
            AddPodAddress(client3, PodIp(client3, ClientHost));
            var url3 = $"http://{vips[(c3.Name, "frontend")]}/";
            Step($"20 requests from a client in {c3.Name}, which has no catalogdetail of its own: load-balanced over cluster1 and cluster2");
            await WaitUntilAsync($"{c3.Name}'s frontend", async () => (await RequestsAsync(binaries, client3, url3, 3, 100, ct)).All(a => a.Ok), TimeSpan.FromSeconds(60), ct);
            var spread = await RequestsAsync(binaries, client3, url3, 20, 50, ct);
            PrintAnswers(spread);
            fromOther = Tally(spread);
        }

        Step("failover: killing cluster1's catalogdetail pods while a client sends a request every 100 ms");
        var (during, failoverTime, failed) = await FailoverAsync(state, contexts, binaries, client1, url, c2.Name, ct);

        Step("bringing cluster1's catalogdetail pods back");
        var restoreClock = Stopwatch.StartNew();
        await StartCatalogDetailAsync(state, contexts, binaries, c1, "v1", ct);
        TimeSpan? restoreTime = null;
        var after = new List<DemoAnswer>();
        while (restoreClock.Elapsed < TimeSpan.FromSeconds(60))
        {
            var answers = await RequestsAsync(binaries, client1, url, 5, 50, ct);
            if (answers.All(a => a.DetailCluster == c1.Name))
            {
                restoreTime = restoreClock.Elapsed;
                break;
            }
        }

        after.AddRange(await RequestsAsync(binaries, client1, url, 20, 50, ct));
        PrintAnswers(after);

        var result = new DemoResult(Tally(before), Tally(during), Tally(after), failoverTime, restoreTime, failed) { FromClusterWithoutBackends = fromOther };
        var summary = new Table().Border(TableBorder.Rounded).Title("[bold]which cluster's catalogdetail answered[/]").AddColumns("phase", "answered by", "note");
        summary.AddRow("before", Markup.Escape(Describe(result.Before)), "from cluster1, affinity local: cluster1's v1 only");
        if (fromOther is not null)
        {
            summary.AddRow($"from {state.Clusters[2].Name}", Markup.Escape(Describe(fromOther)), "no local catalogdetail: spread over the remote clusters");
        }

        summary.AddRow("failover", Markup.Escape(Describe(result.DuringFailover)), Markup.Escape(failoverTime is { } f ? $"first answer from {c2.Name} {f.TotalMilliseconds:0} ms after the pods were killed; {failed} request(s) failed" : "no answer from " + c2.Name));
        summary.AddRow("restored", Markup.Escape(Describe(result.AfterRestore)), Markup.Escape(restoreTime is { } r ? $"cluster1 answered again {r.TotalMilliseconds:0} ms after its pods were started" : "cluster1 did not answer again within 60 s"));
        Console.Write(summary);

        Step("clustermesh status");
        await app.StatusAsync(contexts, [.. state.Clusters.Select(c => c.Context)], wait: false, TimeSpan.Zero, json: false, ct);
        return result;
    }

    private async Task<(List<DemoAnswer> Answers, TimeSpan? FailoverTime, int Failed)> FailoverAsync(LabState state, KubeContexts contexts, LabBinaries binaries, LabNode client, string url, string remote, CancellationToken ct)
    {
        var answers = new List<DemoAnswer>();
        var clock = Stopwatch.StartNew();
        TimeSpan? killedAt = null;
        using var streaming = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var reader = StreamRequestsAsync(binaries, client, url, count: 200, intervalMs: 100, clock, a =>
        {
            lock (answers)
            {
                answers.Add(a);
            }
        }, streaming.Token);

        await Task.Delay(1500, ct);
        killedAt = clock.Elapsed;
        await StopDemoPodsAsync(state, contexts, p => p.Cluster == state.Clusters[0].Name && p.Name.Contains("/catalogdetail-", StringComparison.Ordinal), ct);

        // Until the remote answers five times in a row, or 30 s.
        while (clock.Elapsed - killedAt < TimeSpan.FromSeconds(30))
        {
            lock (answers)
            {
                if (answers.Count >= 5 && answers.TakeLast(5).All(a => a.DetailCluster == remote))
                {
                    break;
                }
            }

            await Task.Delay(100, ct);
        }

        await streaming.CancelAsync();
        await reader;
        List<DemoAnswer> copy;
        lock (answers)
        {
            copy = [.. answers];
        }

        var afterKill = copy.Where(a => a.At >= killedAt).ToList();
        var first = afterKill.FirstOrDefault(a => a.DetailCluster == remote);
        var failed = afterKill.TakeWhile(a => a.DetailCluster != remote).Count(a => !a.Ok);
        PrintAnswers(copy.Where(a => a.At >= killedAt - TimeSpan.FromMilliseconds(500)).Take(25).ToList(), killedAt);
        return (afterKill, first is null ? null : first.At - killedAt, failed);
    }

    private async Task StartCatalogDetailAsync(LabState state, KubeContexts contexts, LabBinaries binaries, LabCluster cluster, string version, CancellationToken ct)
    {
        var nodes = cluster.Nodes.Count > 1 ? new[] { cluster.Nodes[0], cluster.Nodes[^1] } : [cluster.Nodes[0], cluster.Nodes[0]];
        for (var k = 0; k < 2; k++)
        {
            await StartPodAsync(state, contexts, binaries, cluster, nodes[k], $"catalogdetail-{version}-{k + 1}", "catalogdetail", version, 20 + k, upstream: null, ct);
        }
    }

    private static async Task EnsureNamespaceAsync(IKubernetesClient client, CancellationToken ct)
    {
        try
        {
            await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = DemoNamespace } }, ct);
        }
        catch (KubernetesAlreadyExistsException)
        {
        }
    }

    private static async Task<string> EnsureServiceAsync(IKubernetesClient client, string name, CancellationToken ct)
    {
        Service service;
        try
        {
            service = await client.GetAsync<Service>(DemoNamespace, name, ct);
        }
        catch (KubernetesNotFoundException)
        {
            service = await client.CreateAsync(new Service
            {
                Metadata = new ObjectMeta { Name = name, Namespace = DemoNamespace, Labels = new Dictionary<string, string> { ["app"] = name } },
                Spec = new ServiceSpec
                {
                    Selector = new Dictionary<string, string> { ["app"] = name },
                    Ports = [new ServicePort { Name = "http", Protocol = "TCP", Port = 80, TargetPort = AppPort }],
                },
            }, ct);
        }

        return $"{service.Spec?.ClusterIP}:80";
    }

    /// <summary>The lab's kubelet role for one pod: its IP on the node, the process in the node's namespace and cgroup, then the Pod object, Running and Ready.</summary>
    private async Task StartPodAsync(LabState state, KubeContexts contexts, LabBinaries binaries, LabCluster cluster, LabNode node, string name, string app, string version, int host, string? upstream, CancellationToken ct)
    {
        var ip = PodIp(node, host);
        AddPodAddress(node, ip);
        var paths = new LabPaths(cluster.Directory(labDirectory));
        var args = new List<string> { "serve", "--role", app, "--listen", $"{ip}:{AppPort}", "--cluster", cluster.Name, "--pod", name, "--version", version };
        if (upstream is not null)
        {
            args.AddRange(["--upstream", $"http://{upstream}"]);
        }

        var process = LabSystem.Spawn($"{cluster.Name}/{name}", "pod", cluster.Name, binaries.DemoApp, args, paths.Log("pod-" + name), node.Namespace, node.Cgroup,
            new Dictionary<string, string> { ["DOTNET_gcServer"] = "0", ["DOTNET_GCHeapHardLimit"] = "0x8000000" });
        state.Processes.Add(process);
        state.Save();
        await WaitUntilAsync($"pod {name} listening on {ip}:{AppPort}", () => Task.FromResult(IsListening(process.Pid, ip, AppPort) || !LabSystem.IsAlive(process)), TimeSpan.FromSeconds(30), ct, process.Log);
        if (!LabSystem.IsAlive(process))
        {
            throw new CliException($"pod {name} exited at start", $"see {process.Log}");
        }

        var pod = new Pod
        {
            Metadata = new ObjectMeta { Name = name, Namespace = DemoNamespace, Labels = new Dictionary<string, string> { ["app"] = app, ["version"] = version } },
            Spec = new PodSpec { NodeName = node.Name, Containers = [new Container { Name = app, Image = "federation/lab-demo-app", Args = args, Ports = [new ContainerPortSpec { Name = "http", ContainerPort = AppPort, Protocol = "TCP" }] }] },
            Status = new PodStatus
            {
                Phase = "Running",
                PodIP = ip,
                PodIPs = [new PodIP { Ip = ip }],
                HostIP = node.Address,
                Conditions = [new PodCondition { Type = "Ready", Status = "True", LastTransitionTime = DateTimeOffset.UtcNow }],
            },
        };
        var client = contexts.Client(cluster.Context);
        try
        {
            await client.DeleteAsync<Pod>(DemoNamespace, name, ct);
        }
        catch (KubernetesNotFoundException)
        {
        }

        await client.CreateAsync(pod, ct);
    }

    /// <summary>Kills the matching pod processes and deletes their Pod objects and addresses.</summary>
    private static async Task StopDemoPodsAsync(LabState state, KubeContexts contexts, Func<LabProcess, bool> match, CancellationToken ct)
    {
        var pods = state.Processes.Where(p => p.Role == "pod" && match(p)).ToList();
        await LabSystem.StopAsync(pods, TimeSpan.FromSeconds(2));
        foreach (var p in pods)
        {
            var cluster = state.Clusters.First(c => c.Name == p.Cluster);
            var name = p.Name[(p.Name.IndexOf('/', StringComparison.Ordinal) + 1)..];
            try
            {
                await contexts.Client(cluster.Context).DeleteAsync<Pod>(DemoNamespace, name, ct);
            }
            catch (KubernetesNotFoundException)
            {
            }

            state.Processes.Remove(p);
        }

        state.Save();
    }

    private static void AddPodAddress(LabNode node, string ip)
    {
        var result = LabSystem.Run("ip", ["-n", node.Namespace, "addr", "add", ip + "/32", "dev", "lo"], check: false);
        if (result.ExitCode != 0 && !result.Error.Contains("exists", StringComparison.OrdinalIgnoreCase) && !result.Error.Contains("already assigned", StringComparison.OrdinalIgnoreCase))
        {
            throw new CliException($"cannot add pod address {ip} on {node.Name}: {result.Error.Trim()}");
        }
    }

    /// <summary>Whether a TCP socket listens on ip:port in the process's network namespace (/proc/PID/net/tcp).</summary>
    private static bool IsListening(int pid, string ip, int port)
    {
        try
        {
            var bytes = System.Net.IPAddress.Parse(ip).GetAddressBytes();
            var local = string.Create(CultureInfo.InvariantCulture, $"{bytes[3]:X2}{bytes[2]:X2}{bytes[1]:X2}{bytes[0]:X2}:{port:X4}");
            return File.ReadLines($"/proc/{pid}/net/tcp").Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Any(f => f.Length > 3 && f[1] == local && f[3] == "0A");
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task<List<DemoAnswer>> RequestsAsync(LabBinaries binaries, LabNode node, string url, int count, int intervalMs, CancellationToken ct)
    {
        var answers = new List<DemoAnswer>();
        await StreamRequestsAsync(binaries, node, url, count, intervalMs, Stopwatch.StartNew(), answers.Add, ct);
        return answers;
    }

    /// <summary>Runs the demo client as a pod of <paramref name="node"/> (its namespace and cgroup, so the VIP is translated) and reports each answer as it arrives.</summary>
    private static async Task StreamRequestsAsync(LabBinaries binaries, LabNode node, string url, int count, int intervalMs, Stopwatch clock, Action<DemoAnswer> onAnswer, CancellationToken ct)
    {
        var info = new ProcessStartInfo("nsenter") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { $"--net=/var/run/netns/{node.Namespace}", "--", "sh", "-c", $"echo $$ > '{node.Cgroup}/cgroup.procs' && exec \"$@\"", "sh", binaries.DemoApp,
            "request", "--url", url, "--count", count.ToString(CultureInfo.InvariantCulture), "--interval", intervalMs.ToString(CultureInfo.InvariantCulture), "--timeout", "2000", "--bind", PodIp(node, ClientHost) })
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["DOTNET_gcServer"] = "0";
        using var process = Process.Start(info) ?? throw new CliException("cannot start the demo client");
        var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            while (await process.StandardOutput.ReadLineAsync(ct) is { } line)
            {
                if (Parse(line, clock.Elapsed) is { } answer)
                {
                    onAnswer(answer);
                }
            }
        }
        catch (OperationCanceledException)
        {
            process.Kill();
        }

        await process.WaitForExitAsync(CancellationToken.None);
        if (process.ExitCode is not (0 or 137) && !ct.IsCancellationRequested)
        {
            throw new CliException($"the demo client failed (exit {process.ExitCode}): {(await error).Trim()}");
        }
    }

    private static DemoAnswer? Parse(string line, TimeSpan at)
    {
        JsonNode? json;
        try
        {
            json = JsonNode.Parse(line);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }

        if (json is null)
        {
            return null;
        }

        var body = json["body"];
        var catalog = body?["upstream"];
        var detail = catalog?["upstream"];
        return new DemoAnswer(
            json["seq"]?.GetValue<int>() ?? 0,
            json["status"]?.GetValue<int>() ?? 0,
            json["ms"]?.GetValue<double>() ?? 0,
            json["error"]?.GetValue<string>() ?? catalog?["error"]?.GetValue<string>() ?? body?["error"]?.GetValue<string>(),
            body?["cluster"]?.GetValue<string>(),
            catalog?["cluster"]?.GetValue<string>(),
            detail?["cluster"]?.GetValue<string>(),
            detail?["version"]?.GetValue<string>(),
            detail?["pod"]?.GetValue<string>(),
            at);
    }

    private void PrintAnswers(IReadOnlyList<DemoAnswer> answers, TimeSpan? killedAt = null)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("#", "t", "frontend", "productcatalog", "catalogdetail", "pod", "ms", "error");
        foreach (var a in answers)
        {
            var color = a.DetailVersion switch { "v1" => "green", "v2" => "blue", _ => "red" };
            var t = killedAt is { } k ? $"{(a.At - k).TotalMilliseconds:+0;-0} ms" : string.Empty;
            table.AddRow(
                a.Seq.ToString(CultureInfo.InvariantCulture),
                t,
                Markup.Escape(a.FrontendCluster ?? "-"),
                Markup.Escape(a.CatalogCluster ?? "-"),
                $"[{color}]{Markup.Escape(a.Detail)}[/]",
                Markup.Escape(a.DetailPod ?? "-"),
                a.Milliseconds.ToString("0.0", CultureInfo.InvariantCulture),
                Markup.Escape(a.Error is { } e ? (e.Length > 60 ? e[..60] + "…" : e) : string.Empty));
        }

        Console.Write(table);
    }

    private static Dictionary<string, int> Tally(IEnumerable<DemoAnswer> answers)
        => answers.GroupBy(a => a.Detail).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    private static string Describe(IReadOnlyDictionary<string, int> tally)
        => string.Join(", ", tally.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} x{kv.Value}"));
}
