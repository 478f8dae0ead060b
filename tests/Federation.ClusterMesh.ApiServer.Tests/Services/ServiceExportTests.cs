using System.Diagnostics;
using System.Text.Json.Nodes;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.Kubernetes.Models;

namespace Federation.ClusterMesh.ApiServer.Tests.Services;

/// <summary>Scenarios of the services exporter against the lab API server and a real etcd (cluster1, ID 1).</summary>
[Trait("Needs", "etcd")]
public sealed class ServiceExportTests : IAsyncLifetime
{
    private const string Prefix = "cilium/state/services/v1/cluster1/";
    private readonly ClusterEnvironment _env = new();

    public Task InitializeAsync() => _env.InitializeAsync();

    public Task DisposeAsync() => _env.DisposeAsync();

    private static string Key(string ns, string name) => $"{Prefix}{ns}/{name}";

    private static string ServiceYaml(string ns, string name, string annotations, string extraSpec = "", string ip = "")
        => $"""
            apiVersion: v1
            kind: Service
            metadata:
              name: {name}
              namespace: {ns}
              labels:
                app: {name}
              annotations:
                placeholder: "x"
            {annotations}
            spec:
            {(ip.Length > 0 ? $"  clusterIP: {ip}\n  clusterIPs:\n  - {ip}\n" : string.Empty)}  ports:
              - name: http
                port: 80
                protocol: TCP
                targetPort: 8080
            {extraSpec}
            """;

    private static string Annotation(string key, string value) => $"    {key}: \"{value}\"";

    private async Task NamespaceAsync(string name, string? global = null)
        => await _env.ApplyYamlAsync<Namespace>(
            $"""
            apiVersion: v1
            kind: Namespace
            metadata:
              name: {name}
              annotations:
                placeholder: "x"
            {(global is null ? string.Empty : Annotation("clustermesh.cilium.io/global", global))}
            """);

    /// <summary>A Service that is exported, applied after others: once it shows up, everything applied before it was reconciled.</summary>
    private async Task SentinelAsync(string ns, string name = "sentinel")
    {
        await _env.ApplyYamlAsync<Service>(ServiceYaml(ns, name, Annotation("service.cilium.io/global", "true")));
        await Eventually.TrueAsync(async () => await _env.ValueAsync(Key(ns, name)) is not null, MeshScenario.Timeout, $"sentinel {ns}/{name} exported");
    }

    private async Task<List<string>> KeysAsync()
        => [.. (await _env.ListingAsync(Prefix)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[..l.IndexOf('\t', StringComparison.Ordinal)])];

    [Fact]
    public async Task Every_annotation_combination_and_legacy_alias_decides_whether_and_how_a_service_is_exported()
    {
        await _env.StartApiServerAsync();
        await NamespaceAsync("combo");
        var cases = new (string Name, string Annotations, bool Exported)[]
        {
            ("none", string.Empty, false),
            ("global-true", Annotation("service.cilium.io/global", "true"), true),
            ("global-upper", Annotation("service.cilium.io/global", "True"), true),
            ("global-false", Annotation("service.cilium.io/global", "false"), false),
            ("global-shared-true", Annotation("service.cilium.io/global", "true") + "\n" + Annotation("service.cilium.io/shared", "true"), true),
            ("global-shared-false", Annotation("service.cilium.io/global", "true") + "\n" + Annotation("service.cilium.io/shared", "false"), false),
            ("shared-only", Annotation("service.cilium.io/shared", "true"), false),
            ("legacy-global", Annotation("io.cilium/global-service", "true"), true),
            ("legacy-global-legacy-shared-false", Annotation("io.cilium/global-service", "true") + "\n" + Annotation("io.cilium/shared-service", "false"), false),
            ("legacy-global-shared-true", Annotation("io.cilium/global-service", "true") + "\n" + Annotation("service.cilium.io/shared", "true"), true),
            ("primary-wins-over-legacy", Annotation("service.cilium.io/global", "false") + "\n" + Annotation("io.cilium/global-service", "true"), false),
        };
        foreach (var (name, annotations, _) in cases)
        {
            await _env.ApplyYamlAsync<Service>(ServiceYaml("combo", name, annotations));
        }

        await SentinelAsync("combo");

        var expected = cases.Where(c => c.Exported).Select(c => Key("combo", c.Name)).Append(Key("combo", "sentinel")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, await KeysAsync());
        var legacy = JsonNode.Parse((await _env.ValueAsync(Key("combo", "legacy-global")))!)!;
        Assert.True(legacy["includeExternal"]!.GetValue<bool>());
        Assert.True(legacy["shared"]!.GetValue<bool>());
        Assert.Equal(1u, legacy["clusterID"]!.GetValue<uint>());
    }

    [Fact]
    public async Task Headless_multi_port_service_exports_ready_and_serving_terminating_backends_with_the_slices_resolved_ports()
    {
        await _env.StartApiServerAsync();
        await NamespaceAsync("web");
        await _env.ApplyYamlAsync<Service>(
            """
            apiVersion: v1
            kind: Service
            metadata:
              name: db
              namespace: web
              labels:
                tier: data
              annotations:
                service.cilium.io/global: "true"
            spec:
              clusterIP: None
              ports:
              - name: sql
                port: 5432
                protocol: TCP
                targetPort: pg
              - name: metrics
                port: 9100
                protocol: UDP
                targetPort: 9187
            """);
        await _env.ApplyYamlAsync<EndpointSlice>(
            """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: db-a
              namespace: web
              labels:
                kubernetes.io/service-name: db
            addressType: IPv4
            endpoints:
            - addresses: [10.1.0.1]
              conditions: {ready: true, serving: true, terminating: false}
              zone: zone-a
            - addresses: [10.1.0.2]
              conditions: {ready: false, serving: true, terminating: true}
              hostname: db-2
            - addresses: [10.1.0.3]
              conditions: {ready: false, serving: false, terminating: true}
            - addresses: [10.1.0.4]
              conditions: {ready: false, serving: false, terminating: false}
            - addresses: [10.1.0.5]
            ports:
            - name: sql
              port: 15432
              protocol: TCP
            - name: metrics
              port: 9187
              protocol: UDP
            """);

        const string Ports = """{"metrics":{"Protocol":"UDP","Port":9187},"sql":{"Protocol":"TCP","Port":15432}}""";
        await _env.WaitForValueAsync(
            Key("web", "db"),
            "{\"cluster\":\"cluster1\",\"namespace\":\"web\",\"name\":\"db\",\"frontends\":{},"
            + $"\"backends\":{{\"10.1.0.1\":{Ports},\"10.1.0.2\":{Ports},\"10.1.0.5\":{Ports}}},"
            + "\"hostnames\":{\"10.1.0.2\":\"db-2\"},\"zones\":{\"10.1.0.1\":{\"zone\":\"zone-a\",\"forZones\":null}},"
            + "\"labels\":{\"tier\":\"data\"},\"selector\":{},\"includeExternal\":true,\"shared\":true,\"clusterID\":1}",
            "headless multi-port service exported");
    }

    [Fact]
    public async Task Service_key_follows_endpoints_and_is_removed_when_unready_unannotated_opted_out_or_deleted()
    {
        await _env.StartApiServerAsync();
        await NamespaceAsync("shop");
        await _env.ApplyYamlAsync<Service>(ServiceYaml("shop", "cart", Annotation("service.cilium.io/global", "true"), ip: "127.96.1.20"));
        string Value(string backends) =>
            "{\"cluster\":\"cluster1\",\"namespace\":\"shop\",\"name\":\"cart\",\"frontends\":{\"127.96.1.20\":{\"http\":{\"Protocol\":\"TCP\",\"Port\":80}}},"
            + $"\"backends\":{backends},\"labels\":{{\"app\":\"cart\"}},\"selector\":{{}},\"includeExternal\":true,\"shared\":true,\"clusterID\":1}}";
        string Slice(bool ready) => $"""
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: cart-1
              namespace: shop
              labels:
                kubernetes.io/service-name: cart
            addressType: IPv4
            endpoints:
            - addresses: [10.2.0.1]
              conditions: {"{"}ready: {(ready ? "true" : "false")}, serving: {(ready ? "true" : "false")}, terminating: false{"}"}
            ports:
            - name: http
              port: 8080
              protocol: TCP
            """;

        await _env.WaitForValueAsync(Key("shop", "cart"), Value("{}"), "exported without backends");
        await _env.ApplyYamlAsync<EndpointSlice>(Slice(ready: true));
        await _env.WaitForValueAsync(Key("shop", "cart"), Value("""{"10.2.0.1":{"http":{"Protocol":"TCP","Port":8080}}}"""), "ready backend exported");
        await _env.ApplyYamlAsync<EndpointSlice>(Slice(ready: false));
        await _env.WaitForValueAsync(Key("shop", "cart"), Value("{}"), "unready backend removed");
        await _env.ApplyYamlAsync<EndpointSlice>(Slice(ready: true));
        await _env.WaitForValueAsync(Key("shop", "cart"), Value("""{"10.2.0.1":{"http":{"Protocol":"TCP","Port":8080}}}"""), "backend ready again");

        await _env.ApplyYamlAsync<Service>(ServiceYaml("shop", "cart", string.Empty, ip: "127.96.1.20"));
        await _env.WaitForValueAsync(Key("shop", "cart"), null, "removed when the global annotation is removed");
        await _env.ApplyYamlAsync<Service>(ServiceYaml("shop", "cart", Annotation("service.cilium.io/global", "true"), ip: "127.96.1.20"));
        await _env.WaitForValueAsync(Key("shop", "cart"), Value("""{"10.2.0.1":{"http":{"Protocol":"TCP","Port":8080}}}"""), "exported again");

        await NamespaceAsync("shop", global: "false");
        await _env.WaitForValueAsync(Key("shop", "cart"), null, "removed when the namespace opts out");
        await NamespaceAsync("shop", global: "true");
        await _env.WaitForValueAsync(Key("shop", "cart"), Value("""{"10.2.0.1":{"http":{"Protocol":"TCP","Port":8080}}}"""), "exported when the namespace opts in again");

        await _env.DeleteAsync<Service>("shop", "cart");
        await _env.WaitForValueAsync(Key("shop", "cart"), null, "removed when the service is deleted");
    }

    [Fact]
    public async Task Opted_out_namespace_exports_nothing_while_unannotated_namespaces_export()
    {
        // Namespaces first, apiserver after: watch events of different kinds are not ordered with each other, so a
        // namespace opting out while the apiserver runs may be seen after a Service in it (a transient export the
        // service-lifecycle test covers). Present at start, the opt-out is known before the first export.
        await NamespaceAsync("private", global: "false");
        await NamespaceAsync("public");
        await _env.ApplyYamlAsync<Service>(ServiceYaml("private", "api", Annotation("service.cilium.io/global", "true")));
        await _env.StartApiServerAsync();
        await SentinelAsync("public");

        Assert.Equal([Key("public", "sentinel")], await KeysAsync());
    }

    [Fact]
    public async Task Malformed_annotation_values_are_warned_counted_on_metrics_and_defaulted()
    {
        var host = await _env.StartApiServerAsync();
        using var http = new HttpClient { BaseAddress = host.HealthUri };
        await NamespaceAsync("bad");
        await _env.ApplyYamlAsync<Service>(ServiceYaml("bad", "maybe-global", Annotation("service.cilium.io/global", "maybe")));
        await _env.ApplyYamlAsync<Service>(ServiceYaml("bad", "maybe-shared", Annotation("service.cilium.io/global", "true") + "\n" + Annotation("service.cilium.io/shared", "maybe")));
        await SentinelAsync("bad");

        // global defaults to false (not exported); shared defaults to true (exported, "shared":true).
        Assert.Equal([Key("bad", "maybe-shared"), Key("bad", "sentinel")], await KeysAsync());
        Assert.True(JsonNode.Parse((await _env.ValueAsync(Key("bad", "maybe-shared")))!)!["shared"]!.GetValue<bool>());
        var metrics = await http.GetStringAsync("metrics");
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("federation_clustermesh_invalid_objects_total{", StringComparison.Ordinal)
            && l.Contains("exporter=\"services\"", StringComparison.Ordinal) && l.Contains("reason=\"invalid-annotation\"", StringComparison.Ordinal));
        Assert.True(line is not null, "no invalid-annotation counter on /metrics:\n" + metrics);
        Assert.True(double.Parse(line![(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture) >= 2, line);
    }

    [Fact]
    public async Task Services_applied_with_kubectl_are_exported_and_the_canary_readiness_metrics_and_status_follow()
    {
        var host = await _env.StartApiServerAsync();
        using var http = new HttpClient { BaseAddress = host.HealthUri };
        var file = Path.Combine(_env.Directory, "apply.yaml");
        await File.WriteAllTextAsync(file, """
            apiVersion: v1
            kind: Namespace
            metadata:
              name: kubectl-ns
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: echo
              namespace: kubectl-ns
              annotations:
                service.cilium.io/global: "true"
            spec:
              clusterIP: 127.96.1.77
              ports:
              - port: 7
                protocol: UDP
            """);
        await KubectlAsync("apply", "-f", file);

        await _env.WaitForValueAsync(
            Key("kubectl-ns", "echo"),
            """{"cluster":"cluster1","namespace":"kubectl-ns","name":"echo","frontends":{"127.96.1.77":{"":{"Protocol":"UDP","Port":7}}},"backends":{},"labels":{},"selector":{},"includeExternal":true,"shared":true,"clusterID":1}""",
            "service applied with kubectl exported");
        Assert.NotNull(await _env.ValueAsync("cilium/synced/cluster1/cilium/state/services/v1"));
        await Eventually.TrueAsync(async () => (await http.GetAsync("readyz")).IsSuccessStatusCode || !(await http.GetStringAsync("readyz")).Contains("services", StringComparison.Ordinal), MeshScenario.Timeout, "services part ready");
        var status = JsonNode.Parse(await http.GetStringAsync("status"))!;
        Assert.True(status["synced"]!["services"]!.GetValue<bool>());
        Assert.Equal(1, status["services"]!["exported"]!.GetValue<int>());
        Assert.Contains("federation_clustermesh_exported_services{", await http.GetStringAsync("metrics"), StringComparison.Ordinal);
        Assert.Contains("federation_clustermesh_reconcile_duration_seconds", await http.GetStringAsync("metrics"), StringComparison.Ordinal);

        await KubectlAsync("delete", "-n", "kubectl-ns", "service", "echo");
        await _env.WaitForValueAsync(Key("kubectl-ns", "echo"), null, "service deleted with kubectl removed");
    }

    private async Task KubectlAsync(params string[] args)
    {
        var start = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("--kubeconfig");
        start.ArgumentList.Add(_env.KubeconfigPath);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"kubectl {string.Join(' ', args)} failed ({process.ExitCode}): {await stdout}{await stderr}");
    }
}
