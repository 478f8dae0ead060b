using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Federation.Lab.ApiServer.Storage;
using Federation.Lab.Tests.Infrastructure;

namespace Federation.Lab.Tests.Kubectl;

/// <summary>The columns the real kubectl prints from the lab API server's tables.</summary>
[Collection(LabCollection.Name)]
[Trait("Needs", "etcd")]
public sealed partial class KubectlTableTests(LabApiServerFixture lab) : KubectlTestBase(lab, "kubectl-table")
{
    [Fact]
    public async Task Get_pods_shows_ready_status_and_restarts_and_wide_adds_ip_and_node()
    {
        var ns = await Lab.NewNamespaceAsync("kpods");
        await CreateAsync($"api/v1/namespaces/{ns}/pods", RunningPod(ns, "web-1", "10.1.0.5", "node-a"));
        var crashing = RunningPod(ns, "web-2", "10.1.0.6", "node-b");
        crashing["status"]!["containerStatuses"] = new JsonArray(new JsonObject
        {
            ["name"] = "web",
            ["ready"] = false,
            ["restartCount"] = 4,
            ["state"] = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "CrashLoopBackOff" } },
            ["lastState"] = new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 1, ["finishedAt"] = Timestamp(DateTimeOffset.UtcNow.AddMinutes(-30)) } },
        });
        await CreateAsync($"api/v1/namespaces/{ns}/pods", crashing);

        var plain = await RunAsync(["get", "pods", "-n", ns]);
        var wide = await RunAsync(["get", "pods", "-n", ns, "-o", "wide"]);

        Assert.Equal(["NAME", "READY", "STATUS", "RESTARTS", "AGE"], Header(plain));
        var running = Row(plain, "web-1");
        Assert.Equal("1/1", running["READY"]);
        Assert.Equal("Running", running["STATUS"]);
        Assert.Equal("0", running["RESTARTS"]);
        Assert.Matches(@"^\d+s$", running["AGE"]);
        var crash = Row(plain, "web-2");
        Assert.Equal("0/1", crash["READY"]);
        Assert.Equal("CrashLoopBackOff", crash["STATUS"]);
        Assert.Equal("4 (30m ago)", crash["RESTARTS"]);
        Assert.Equal(["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"], Header(wide));
        Assert.Equal("10.1.0.5", Row(wide, "web-1")["IP"]);
        Assert.Equal("node-a", Row(wide, "web-1")["NODE"]);
        Assert.Equal("<none>", Row(wide, "web-1")["NOMINATED NODE"]);
        Assert.Equal("10.1.0.6", Row(wide, "web-2")["IP"]);
    }

    [Fact]
    public async Task Get_pods_in_all_namespaces_adds_the_namespace_of_each_row()
    {
        var ns = await Lab.NewNamespaceAsync("kall");
        await CreateAsync($"api/v1/namespaces/{ns}/pods", RunningPod(ns, "everywhere", "10.1.0.7", "node-a"));

        var all = await RunAsync(["get", "pods", "-A"]);

        Assert.Equal(["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"], Header(all));
        Assert.Contains(Rows(all), r => r["NAMESPACE"] == ns && r["NAME"] == "everywhere" && r["STATUS"] == "Running");
    }

    [Fact]
    public async Task Get_services_shows_the_cluster_ip_and_ports_and_wide_the_selector()
    {
        var ns = await Lab.NewNamespaceAsync("ksvc");
        await CreateAsync($"api/v1/namespaces/{ns}/services", new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = "dns" },
            ["spec"] = new JsonObject
            {
                ["selector"] = new JsonObject { ["app"] = "dns", ["tier"] = "infra" },
                ["ports"] = new JsonArray(
                    new JsonObject { ["name"] = "http", ["port"] = 80 },
                    new JsonObject { ["name"] = "dns", ["port"] = 53, ["protocol"] = "UDP" }),
            },
        });
        var clusterIp = (await Lab.Store.GetAsync(LabResources.Services, ns, "dns")).Object!["spec"]!["clusterIP"]!.ToString();

        var plain = await RunAsync(["get", "svc", "-n", ns]);
        var wide = await RunAsync(["get", "svc", "dns", "-n", ns, "-o", "wide"]);

        Assert.Equal(["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], Header(plain));
        var row = Row(plain, "dns");
        Assert.Equal("ClusterIP", row["TYPE"]);
        Assert.Equal(clusterIp, row["CLUSTER-IP"]);
        Assert.Equal("<none>", row["EXTERNAL-IP"]);
        Assert.Equal("80/TCP,53/UDP", row["PORT(S)"]);
        Assert.Equal("app=dns,tier=infra", Row(wide, "dns")["SELECTOR"]);
    }

    [Fact]
    public async Task Get_endpointslices_shows_the_first_endpoints_and_how_many_more()
    {
        var ns = await Lab.NewNamespaceAsync("keps");
        await CreateAsync($"apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1",
            ["kind"] = "EndpointSlice",
            ["metadata"] = new JsonObject { ["name"] = "web-abc" },
            ["addressType"] = "IPv4",
            ["endpoints"] = new JsonArray([.. Enumerable.Range(1, 4).Select(i => (JsonNode)new JsonObject { ["addresses"] = new JsonArray($"10.1.0.{i}") })]),
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 8080, ["protocol"] = "TCP" }),
        });

        var result = await RunAsync(["get", "endpointslices", "-n", ns]);

        Assert.Equal(["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], Header(result));
        var row = Row(result, "web-abc");
        Assert.Equal("IPv4", row["ADDRESSTYPE"]);
        Assert.Equal("8080", row["PORTS"]);
        Assert.Equal("10.1.0.1,10.1.0.2,10.1.0.3 + 1 more...", row["ENDPOINTS"]);
    }

    [Fact]
    public async Task Get_nodes_shows_status_from_the_Ready_condition_and_roles_from_labels()
    {
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var bare = "bare-" + suffix;
        var ready = "ready-" + suffix;
        try
        {
            await CreateAsync("api/v1/nodes", new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Node",
                ["metadata"] = new JsonObject { ["name"] = bare, ["labels"] = new JsonObject { ["node-role.kubernetes.io/control-plane"] = "" } },
                ["status"] = new JsonObject { ["addresses"] = new JsonArray(new JsonObject { ["type"] = "InternalIP", ["address"] = "10.0.0.9" }) },
            });
            await CreateAsync("api/v1/nodes", new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Node",
                ["metadata"] = new JsonObject { ["name"] = ready },
                ["spec"] = new JsonObject { ["unschedulable"] = true },
                ["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True" }) },
            });

            var wide = await RunAsync(["get", "nodes", bare, ready, "-o", "wide"]);

            Assert.Equal(["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"], Header(wide));
            var bareRow = Row(wide, bare);
            Assert.Equal("Unknown", bareRow["STATUS"]);
            Assert.Equal("control-plane", bareRow["ROLES"]);
            Assert.Equal("10.0.0.9", bareRow["INTERNAL-IP"]);
            Assert.Equal("<none>", bareRow["EXTERNAL-IP"]);
            Assert.Equal("<unknown>", bareRow["OS-IMAGE"]);
            var readyRow = Row(wide, ready);
            Assert.Equal("Ready,SchedulingDisabled", readyRow["STATUS"]);
            Assert.Equal("<none>", readyRow["ROLES"]);
        }
        finally
        {
            await Lab.Http.DeleteJsonAsync($"api/v1/nodes/{bare}");
            await Lab.Http.DeleteJsonAsync($"api/v1/nodes/{ready}");
        }
    }

    [Fact]
    public async Task Kinds_without_a_printer_of_their_own_list_with_name_and_age()
    {
        var ns = await Lab.NewNamespaceAsync("kgeneric");
        await CreateAsync($"api/v1/namespaces/{ns}/serviceaccounts", new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ServiceAccount", ["metadata"] = new JsonObject { ["name"] = "robot" } });
        await CreateAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("settings", ns));

        var accounts = await RunAsync(["get", "serviceaccounts", "-n", ns]);
        var wide = await RunAsync(["get", "serviceaccounts", "-n", ns, "-o", "wide"]);
        var configMaps = await RunAsync(["get", "configmaps", "-n", ns]);

        Assert.Equal(["NAME", "AGE"], Header(accounts));
        Assert.Matches(@"^\d+s$", Row(accounts, "robot")["AGE"]);
        Assert.Equal(["NAME", "AGE", "CREATED AT"], Header(wide));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", Row(wide, "robot")["CREATED AT"]);
        Assert.Equal(["NAME", "DATA", "AGE"], Header(configMaps));
        Assert.Equal("1", Row(configMaps, "settings")["DATA"]);
    }

    [Fact]
    public async Task Get_pods_watch_prints_new_pods_with_their_status_under_one_header()
    {
        var ns = await Lab.NewNamespaceAsync("kpodwatch");
        await CreateAsync($"api/v1/namespaces/{ns}/pods", RunningPod(ns, "before", "10.1.0.8", "node-a"));
        var lines = new List<string>();
        var errors = new List<string>();
        using var process = Kubectl.Start(["get", "pods", "-n", ns, "-w"]);
        try
        {
            process.OutputDataReceived += (_, e) => Append(lines, e.Data);
            process.ErrorDataReceived += (_, e) => Append(errors, e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await Eventually.TrueAsync(() => Task.FromResult(Snapshot(lines).Any(l => l.StartsWith("before ", StringComparison.Ordinal))), TimeSpan.FromSeconds(20), "kubectl get -w to print the existing pod");

            // Two events: the watch's first Table carries the columns, the second only its row.
            await CreateAsync($"api/v1/namespaces/{ns}/pods", RunningPod(ns, "after", "10.1.0.9", "node-a"));
            await CreateAsync($"api/v1/namespaces/{ns}/pods", RunningPod(ns, "later", "10.1.0.10", "node-b"));

            await Eventually.TrueAsync(
                () => Task.FromResult(Snapshot(lines).Any(l => l.StartsWith("later ", StringComparison.Ordinal))),
                TimeSpan.FromSeconds(20),
                "kubectl get -w to print the new pods: " + string.Join('\n', Snapshot(errors)));
            var seen = Snapshot(lines);
            Assert.Single(seen, l => l.StartsWith("NAME ", StringComparison.Ordinal));
            Assert.Equal(["after", "1/1", "Running", "0"], Cells(seen.First(l => l.StartsWith("after ", StringComparison.Ordinal)))[..4]);
            Assert.Equal(["later", "1/1", "Running", "0"], Cells(seen.First(l => l.StartsWith("later ", StringComparison.Ordinal)))[..4]);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.WaitForExit(10_000);
        }
    }

    private async Task<KubectlRunner.Result> RunAsync(IReadOnlyList<string> args)
    {
        var result = await Kubectl.RunAsync(args);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    private async Task CreateAsync(string path, JsonObject body)
    {
        var response = await Lab.Http.PostJsonAsync(path, body);
        Assert.True(response.Code == 201, response.Text);
    }

    private static JsonObject RunningPod(string ns, string name, string ip, string node) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Pod",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = new JsonObject { ["app"] = "web" } },
        ["spec"] = new JsonObject { ["nodeName"] = node, ["containers"] = new JsonArray(new JsonObject { ["name"] = "web", ["image"] = "demo" }) },
        ["status"] = new JsonObject
        {
            ["phase"] = "Running",
            ["podIP"] = ip,
            ["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip }),
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True" }),
            ["containerStatuses"] = new JsonArray(new JsonObject
            {
                ["name"] = "web",
                ["ready"] = true,
                ["restartCount"] = 0,
                ["state"] = new JsonObject { ["running"] = new JsonObject { ["startedAt"] = Timestamp(DateTimeOffset.UtcNow) } },
            }),
        },
    };

    private static string Timestamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>kubectl pads columns with at least three spaces; cells themselves hold at most single spaces.</summary>
    [GeneratedRegex(@"\s{2,}")]
    private static partial Regex ColumnGap();

    private static string[] Cells(string line) => ColumnGap().Split(line.Trim());

    private static string[] Lines(KubectlRunner.Result result) => result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static string[] Header(KubectlRunner.Result result) => Cells(Lines(result)[0]);

    /// <summary>The rows by column name, cut at the header's column starts (a cell may be empty, as VERSION is for lab nodes).</summary>
    private static List<Dictionary<string, string>> Rows(KubectlRunner.Result result)
    {
        var lines = Lines(result);
        var columns = HeaderCell().Matches(lines[0]).Select(m => (m.Value, m.Index)).ToList();
        return [.. lines.Skip(1).Select(line => columns.Select((column, i) =>
        {
            var start = Math.Min(column.Index, line.Length);
            var end = i + 1 < columns.Count ? Math.Min(columns[i + 1].Index, line.Length) : line.Length;
            return KeyValuePair.Create(column.Value, line[start..end].Trim());
        }).ToDictionary())];
    }

    [GeneratedRegex(@"\S+(?: \S+)*")]
    private static partial Regex HeaderCell();

    private static Dictionary<string, string> Row(KubectlRunner.Result result, string name)
        => Rows(result).SingleOrDefault(r => r["NAME"] == name) ?? throw new Xunit.Sdk.XunitException($"no row {name} in:\n{result.Stdout}");

    private static void Append(List<string> lines, string? line)
    {
        if (line is not null)
        {
            lock (lines)
            {
                lines.Add(line);
            }
        }
    }

    private static List<string> Snapshot(List<string> lines)
    {
        lock (lines)
        {
            return [.. lines];
        }
    }
}
