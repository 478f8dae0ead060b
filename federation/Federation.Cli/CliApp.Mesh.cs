using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.Cli.Mesh;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Models;
using Federation.Mesh.Remote;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Federation.Cli;

public sealed partial class CliApp
{
    private Command EnableCommand()
    {
        var context = ContextOption();
        var name = new Option<string?>("--cluster-name") { Description = "the cluster's name in the mesh (required the first time)" };
        var id = new Option<uint?>("--cluster-id") { Description = "the cluster's ID, unique in the mesh (1–255, or 1–511)" };
        var max = new Option<uint?>("--max-connected-clusters") { Description = "255 (default) or 511, the same in every cluster" };
        var endpoints = new Option<string?>("--etcd-endpoints") { Description = "where other clusters reach this cluster's etcd, comma-separated (default: " + MeshEnabler.DefaultEtcdEndpoint + ")" };
        var statusUrl = new Option<string?>("--status-url") { Description = "the clustermesh-apiserver's health address, read by 'status' (e.g. http://127.0.0.1:9880)" };
        var serviceType = new Option<string?>("--service-type") { Description = "how the etcd is exposed to other clusters: NodePort (default), LoadBalancer, ClusterIP" };
        var caCert = new Option<FileInfo?>("--ca-cert") { Description = "import this CA (PEM) when the cluster has none yet; clusters with one CA connect without bundling" };
        var caKey = new Option<FileInfo?>("--ca-key") { Description = "the CA's private key (PEM), with --ca-cert" };
        var command = new Command("enable", "create the cluster's CA, certificates and mesh configuration (idempotent)") { context, name, id, max, endpoints, statusUrl, serviceType, caCert, caKey };
        command.SetAction(Guard(async (parse, ct) =>
        {
            var ctx = parse.GetRequiredValue(context);
            if ((parse.GetValue(caCert) is null) != (parse.GetValue(caKey) is null))
            {
                throw new CliException("--ca-cert and --ca-key go together", "pass both, or neither to create a new CA");
            }

            using var contexts = Contexts(parse);
            var request = new EnableRequest
            {
                Context = ctx,
                ClusterName = parse.GetValue(name),
                ClusterId = parse.GetValue(id),
                MaxConnectedClusters = parse.GetValue(max),
                EtcdEndpoints = parse.GetValue(endpoints) is { } e ? [.. e.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)] : null,
                StatusUrl = parse.GetValue(statusUrl),
                ServiceType = parse.GetValue(serviceType),
                CaCertificatePem = parse.GetValue(caCert) is { } c ? await ReadFileAsync("--ca-cert", c, ct) : null,
                CaPrivateKeyPem = parse.GetValue(caKey) is { } k ? await ReadFileAsync("--ca-key", k, ct) : null,
            };
            var result = await MeshEnabler.EnableAsync(contexts.Client(ctx), request, ct);
            var table = new Table().Border(TableBorder.Simple).AddColumns("object", "result");
            foreach (var action in result.Actions)
            {
                table.AddRow(Markup.Escape($"{action.Kind} {MeshObjects.Namespace}/{action.Name}"), Markup.Escape(action.Action));
            }

            Console.MarkupLine($"[bold]enable[/] {Markup.Escape(ctx)}: cluster [green]{Markup.Escape(result.Settings.ClusterName)}[/] id {result.Settings.ClusterId}, max {result.Settings.MaxConnectedClusters} clusters, etcd {Markup.Escape(string.Join(", ", result.Settings.EtcdEndpoints))}");
            Console.Write(table);
            return 0;
        }));
        return command;
    }

    private Command ConnectCommand()
    {
        var context = ContextOption();
        var destinations = new Option<string[]>("--destination-context") { Description = "the cluster(s) to connect to (repeat or list several)", Required = true, AllowMultipleArgumentsPerToken = true };
        var mode = new Option<string>("--connection-mode") { Description = "bidirectional (default): source <-> each destination; mesh: every pair; unicast: source -> destinations", DefaultValueFactory = _ => "bidirectional" };
        mode.AcceptOnlyFromAmong("bidirectional", "mesh", "unicast");
        var parallel = new Option<int>("--parallel") { Description = "links written at once", DefaultValueFactory = _ => 1 };
        var allowMismatchingCa = new Option<bool>("--allow-mismatching-ca") { Description = "connect clusters with different CAs by adding each CA to the other's trust bundle" };
        var command = new Command("connect", "connect clusters: validate both sides, then write each side's remote-cluster configuration") { context, destinations, mode, parallel, allowMismatchingCa };
        command.SetAction(Guard(async (parse, ct) =>
        {
            var source = parse.GetRequiredValue(context);
            var targets = parse.GetRequiredValue(destinations).SelectMany(d => d.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal).ToList();
            if (targets.Contains(source, StringComparer.Ordinal))
            {
                throw new CliException($"--destination-context {source} is the source context itself", "a cluster does not connect to itself");
            }

            var n = parse.GetValue(parallel);
            if (n < 1)
            {
                throw new CliException($"--parallel: {n} must be at least 1");
            }

            using var contexts = Contexts(parse);
            var links = await ConnectAsync(contexts, source, targets, Enum.Parse<ConnectionMode>(parse.GetValue(mode)!, ignoreCase: true), n, parse.GetValue(allowMismatchingCa), ct);
            return links >= 0 ? 0 : 1;
        }));
        return command;
    }

    /// <summary>Validates, checks reachability, writes the links; prints a table. Shared with <c>lab up</c>.</summary>
    internal async Task<int> ConnectAsync(KubeContexts contexts, string source, IReadOnlyList<string> targets, ConnectionMode mode, int parallel, bool allowMismatchingCa, CancellationToken ct)
    {
        var sourceCluster = await MeshConnector.ReadClusterAsync(contexts.Client(source), source, ct);
        var destinationClusters = new List<MeshCluster>();
        foreach (var target in targets)
        {
            destinationClusters.Add(await MeshConnector.ReadClusterAsync(contexts.Client(target), target, ct));
        }

        MeshConnector.Validate([sourceCluster, .. destinationClusters], allowMismatchingCa);
        var links = MeshConnector.Links(sourceCluster, destinationClusters, mode);
        foreach (var target in links.Select(l => l.Target).Distinct())
        {
            await MeshConnector.CheckReachableAsync(target, ct);
        }

        var results = new (MeshLink Link, bool Changed)[links.Count];
        using var gate = new SemaphoreSlim(parallel);
        var readers = links.Select((link, index) => (Link: link, Index: index)).GroupBy(l => l.Link.Reader.Context).ToList();

        // Links of one reader go to one Secret: written one after the other; different readers in parallel.
        await Task.WhenAll(readers.Select(async group =>
        {
            await gate.WaitAsync(ct);
            try
            {
                foreach (var (link, index) in group)
                {
                    results[index] = (link, await MeshConnector.WriteLinkAsync(link, allowMismatchingCa, ct));
                }
            }
            finally
            {
                gate.Release();
            }
        }));

        var table = new Table().Border(TableBorder.Simple).AddColumns("reader", "reads", "endpoints", "result");
        foreach (var (link, changed) in results)
        {
            table.AddRow(
                Markup.Escape($"{link.Reader.Settings.ClusterName} ({link.Reader.Context})"),
                Markup.Escape($"{link.Target.Settings.ClusterName} (id {link.Target.Settings.ClusterId})"),
                Markup.Escape(string.Join(", ", link.Target.Settings.EtcdEndpoints)),
                changed ? "[green]connected[/]" : "already connected");
        }

        Console.MarkupLine($"[bold]connect[/] ({mode.ToString().ToLowerInvariant()}): {links.Count} link(s); each reader's clustermesh-apiserver picks its Secret {MeshObjects.Namespace}/{MeshObjects.ClusterMeshSecret} up and mirrors the remote");
        Console.Write(table);
        Console.MarkupLine($"follow it with: clustermesh status --context {Markup.Escape(source)} --wait");
        return links.Count;
    }

    private Command DisconnectCommand()
    {
        var context = ContextOption();
        var destinations = new Option<string[]>("--destination-context") { Description = "the cluster(s) to disconnect from", Required = true, AllowMultipleArgumentsPerToken = true };
        var command = new Command("disconnect", "disconnect clusters (both directions); each side drains the other's data") { context, destinations };
        command.SetAction(Guard(async (parse, ct) =>
        {
            var source = parse.GetRequiredValue(context);
            using var contexts = Contexts(parse);
            var sourceSettings = await MeshObjectStore.ReadSettingsAsync(contexts.Client(source), source, ct);
            var table = new Table().Border(TableBorder.Simple).AddColumns("reader", "no longer reads", "result");
            foreach (var target in parse.GetRequiredValue(destinations).SelectMany(d => d.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal))
            {
                var targetSettings = await MeshObjectStore.ReadSettingsAsync(contexts.Client(target), target, ct);
                var a = await MeshConnector.RemoveLinkAsync(contexts.Client(source), source, targetSettings.ClusterName, ct);
                var b = await MeshConnector.RemoveLinkAsync(contexts.Client(target), target, sourceSettings.ClusterName, ct);
                await MeshConnector.UpdatePeersAsync(contexts.Client(target), target, sourceSettings.ClusterName, add: false, ct);
                await MeshConnector.UpdatePeersAsync(contexts.Client(source), source, targetSettings.ClusterName, add: false, ct);
                table.AddRow(Markup.Escape(sourceSettings.ClusterName), Markup.Escape(targetSettings.ClusterName), a ? "[yellow]disconnected[/]" : "was not connected");
                table.AddRow(Markup.Escape(targetSettings.ClusterName), Markup.Escape(sourceSettings.ClusterName), b ? "[yellow]disconnected[/]" : "was not connected");
            }

            Console.MarkupLine("[bold]disconnect[/]: the apiservers remove the remote's configuration first, then drain its cached data after their grace period");
            Console.Write(table);
            return 0;
        }));
        return command;
    }

    private Command StatusCommand()
    {
        var context = new Option<string[]>("--context") { Description = "the cluster(s) to report on", Required = true, AllowMultipleArgumentsPerToken = true };
        var wait = new Option<bool>("--wait") { Description = "wait until every remote cluster and node agent is ready (exit 1 at the timeout)" };
        var waitDuration = new Option<string>("--wait-duration") { Description = "how long --wait waits (e.g. 90s, 5m)", DefaultValueFactory = _ => "5m" };
        var output = new Option<string>("--output", "-o") { Description = "table (default) or json", DefaultValueFactory = _ => "table" };
        output.AcceptOnlyFromAmong("table", "json");
        var command = new Command("status", "per remote cluster: state, ID, synced kinds, counts, last failure, stale since; node agents connected") { context, wait, waitDuration, output };
        command.SetAction(Guard(async (parse, ct) =>
        {
            var targets = parse.GetRequiredValue(context).SelectMany(d => d.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal).ToList();
            var timeout = ParseDuration("--wait-duration", parse.GetValue(waitDuration)!);
            using var contexts = Contexts(parse);
            return await StatusAsync(contexts, targets, parse.GetValue(wait), timeout, parse.GetValue(output) == "json", ct);
        }));
        return command;
    }

    /// <summary>Prints the status of <paramref name="targets"/>; with <paramref name="wait"/>, a live display until all are ready. Shared with the lab.</summary>
    internal async Task<int> StatusAsync(KubeContexts contexts, IReadOnlyList<string> targets, bool wait, TimeSpan timeout, bool json, CancellationToken ct)
    {
        async Task<List<ClusterStatusReport>> ReadAllAsync()
        {
            var reports = new List<ClusterStatusReport>();
            foreach (var target in targets)
            {
                reports.Add(await MeshStatusReader.ReadAsync(contexts.Client(target), target, ct));
            }

            return reports;
        }

        var stopwatch = Stopwatch.StartNew();
        var reports = await ReadAllAsync();
        if (wait && !reports.All(r => r.AllReady))
        {
            if (json || !Console.Profile.Capabilities.Interactive)
            {
                // No live display (JSON, or output to a file or pipe): one progress line when something changes, at most every 5 s.
                var last = string.Empty;
                var lastAt = TimeSpan.Zero;
                while (!reports.All(r => r.AllReady) && stopwatch.Elapsed < timeout)
                {
                    var line = string.Join("; ", reports.Select(r => $"{r.Cluster}: {r.Remotes.Count(x => x.State == RemoteClusterState.Ready)}/{r.Configured.Count} remotes ready, {r.AgentsConnected}/{r.Nodes} agents connected"));
                    if (!json && line != last && stopwatch.Elapsed - lastAt >= TimeSpan.FromSeconds(5))
                    {
                        Error.WriteLine($"waiting ({stopwatch.Elapsed.TotalSeconds:0} s of {timeout.TotalSeconds:0} s): {line}");
                        (last, lastAt) = (line, stopwatch.Elapsed);
                    }

                    await Task.Delay(500, ct);
                    reports = await ReadAllAsync();
                }
            }
            else
            {
                await Console.Live(Render(reports, stopwatch.Elapsed, timeout)).StartAsync(async live =>
                {
                    while (!reports.All(r => r.AllReady) && stopwatch.Elapsed < timeout)
                    {
                        await Task.Delay(500, ct);
                        reports = await ReadAllAsync();
                        live.UpdateTarget(Render(reports, stopwatch.Elapsed, timeout));
                    }
                });
            }
        }

        var ready = reports.All(r => r.AllReady);
        if (json)
        {
            Output.WriteLine(ToJson(reports, ready).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }
        else
        {
            Console.Write(Render(reports, null, null));
            if (wait)
            {
                Console.MarkupLine(ready
                    ? $"[green]ready[/] after {stopwatch.Elapsed.TotalSeconds:0.0} s"
                    : $"[red]not ready[/] after {timeout.TotalSeconds:0} s (--wait-duration)");
            }
        }

        return !wait || ready ? 0 : 1;
    }

    private static IRenderable Render(IReadOnlyList<ClusterStatusReport> reports, TimeSpan? elapsed, TimeSpan? timeout)
    {
        var rows = new List<IRenderable>();
        if (elapsed is { } e && timeout is { } t)
        {
            rows.Add(new Markup($"[grey]waiting for every remote cluster and node agent to be ready: {e.TotalSeconds:0} s of {t.TotalSeconds:0} s[/]"));
        }

        foreach (var report in reports)
        {
            var state = report.AllReady ? "[green]ready[/]" : "[yellow]not ready[/]";
            rows.Add(new Markup($"[bold]{Markup.Escape(report.Cluster)}[/] (id {report.ClusterId}, context {Markup.Escape(report.Context)}): {state}; apiserver {(report.ApiServerReady ? "ready" : report.ApiServerReachable ? "exporting" : "unreachable")}; node agents connected: {report.AgentsConnected}/{report.Nodes}"));
            var table = new Table().Border(TableBorder.Simple).AddColumns("remote", "state", "id", "synced", "nodes", "services", "identities", "endpoints", "failures", "last failure", "stale since");
            foreach (var name in report.Configured.Union(report.Remotes.Select(r => r.Name)).Order(StringComparer.Ordinal))
            {
                var r = report.Remotes.FirstOrDefault(x => x.Name == name);
                if (r is null)
                {
                    table.AddRow(Markup.Escape(name), "[grey]not picked up yet[/]", "", "", "", "", "", "", "", "", "");
                    continue;
                }

                string Count(string kind) => r.Kinds.TryGetValue(kind, out var k) ? k.Entries.ToString(CultureInfo.InvariantCulture) : "-";
                var synced = string.Join(" ", r.Kinds.Select(k => (k.Value.Synced ? "+" : "-") + k.Key));
                var color = r.State switch { RemoteClusterState.Ready => "green", RemoteClusterState.Syncing or RemoteClusterState.Connecting => "yellow", _ => "red" };
                table.AddRow(
                    Markup.Escape(name),
                    $"[{color}]{r.State.ToString().ToLowerInvariant()}[/]",
                    r.ClusterId?.ToString(CultureInfo.InvariantCulture) ?? "-",
                    Markup.Escape(synced),
                    Count("nodes"),
                    Count("services"),
                    Count("identities"),
                    Count("ips"),
                    r.Failures.ToString(CultureInfo.InvariantCulture),
                    Markup.Escape(r.LastFailure is { } f ? $"{f:HH:mm:ss} {r.LastFailureReason}" : "-"),
                    r.StaleSince is { } s ? $"{s:HH:mm:ss}" : "-");
            }

            rows.Add(table);
            foreach (var problem in report.Problems())
            {
                rows.Add(new Markup($"  [yellow]![/] {Markup.Escape(problem)}"));
            }
        }

        return new Rows(rows);
    }

    private static JsonObject ToJson(IReadOnlyList<ClusterStatusReport> reports, bool ready)
    {
        var clusters = new JsonArray();
        foreach (var r in reports)
        {
            var agents = new JsonArray();
            foreach (var a in r.Agents)
            {
                agents.Add(new JsonObject { ["node"] = a.Node, ["connected"] = a.Connected, ["ready"] = a.Ready, ["remotesNotReady"] = new JsonArray([.. a.RemotesNotReady.Select(x => (JsonNode?)x)]), ["problem"] = a.Problem });
            }

            clusters.Add(new JsonObject
            {
                ["context"] = r.Context,
                ["cluster"] = r.Cluster,
                ["clusterID"] = r.ClusterId,
                ["ready"] = r.AllReady,
                ["apiserver"] = new JsonObject { ["reachable"] = r.ApiServerReachable, ["ready"] = r.ApiServerReady, ["problem"] = r.ApiServerProblem },
                ["configured"] = new JsonArray([.. r.Configured.Select(x => (JsonNode?)x)]),
                ["remotes"] = JsonSerializer.SerializeToNode(new RemoteClustersStatus(r.Remotes, []), RemoteClusterStatusJsonContext.Default.RemoteClustersStatus)?["clusters"]?.DeepClone(),
                ["nodes"] = r.Nodes,
                ["agentsConnected"] = r.AgentsConnected,
                ["agents"] = agents,
                ["problems"] = new JsonArray([.. r.Problems().Select(x => (JsonNode?)x)]),
            });
        }

        return new JsonObject { ["ready"] = ready, ["clusters"] = clusters };
    }

    private Command ServiceCommand()
    {
        var context = ContextOption(required: false);
        var target = new Argument<string>("NAMESPACE/NAME") { Description = "the Service" };
        var affinity = new Option<string?>("--affinity") { Description = "local, remote or none" };
        affinity.AcceptOnlyFromAmong("local", "remote", "none");
        var shared = new Option<bool?>("--shared") { Description = "whether other clusters get this cluster's backends (default true)" };
        var global = new Command("global", "mark a Service global (reachable and load-balanced across the mesh)") { target, context, affinity, shared };
        global.SetAction(Guard(async (parse, ct) =>
        {
            var text = parse.GetRequiredValue(target);
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0 || slash == text.Length - 1 || text.IndexOf('/', slash + 1) >= 0)
            {
                throw new CliException($"'{text}' is not NAMESPACE/NAME", "e.g. clustermesh service global demo/catalogdetail --affinity local");
            }

            var (ns, name) = (text[..slash], text[(slash + 1)..]);
            var annotations = new JsonObject { ["service.cilium.io/global"] = "true" };
            if (parse.GetValue(affinity) is { } a)
            {
                annotations["service.cilium.io/affinity"] = a;
            }

            if (parse.GetValue(shared) is { } s)
            {
                annotations["service.cilium.io/shared"] = s ? "true" : "false";
            }

            var patch = new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = annotations } }.ToJsonString();
            var ctx = parse.GetValue(context);
            using var contexts = Contexts(parse);
            try
            {
                await contexts.Client(ctx).PatchAsync<Service>(ns, name, PatchType.Merge, patch, ct);
            }
            catch (KubernetesNotFoundException)
            {
                throw new CliException($"Service {ns}/{name} not found{(ctx is null ? string.Empty : " in context " + ctx)}", "check the name with: kubectl get services -n " + ns);
            }

            Console.MarkupLine($"Service {Markup.Escape(ns)}/{Markup.Escape(name)}: {Markup.Escape(string.Join(", ", annotations.Select(kv => $"{kv.Key}={kv.Value}")))}");
            return 0;
        }));
        return new Command("service", "Service helpers") { global };
    }

    private static async Task<string> ReadFileAsync(string option, FileInfo file, CancellationToken ct)
    {
        try
        {
            return await File.ReadAllTextAsync(file.FullName, ct);
        }
        catch (IOException e)
        {
            throw new CliException($"{option}: cannot read {file.FullName}: {e.Message}");
        }
    }
}
