using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Federation.Lab.ApiServer.Storage;
using Federation.Lab.Tests.Infrastructure;

namespace Federation.Lab.Tests.Kubectl;

/// <summary>The real, unmodified kubectl against the lab API server.</summary>
[Collection(LabCollection.Name)]
[Trait("Needs", "etcd")]
public sealed class KubectlTests(LabApiServerFixture lab) : KubectlTestBase(lab, "kubectl")
{
    [Fact]
    public async Task Get_namespaces_prints_a_table_with_the_initial_namespaces()
    {
        var result = await Kubectl.RunAsync(["get", "namespaces"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("NAME", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("default ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("kube-system ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Apply_of_a_multi_document_manifest_creates_every_object_and_reapply_updates_them()
    {
        var ns = "apply-" + Guid.NewGuid().ToString("N")[..6];
        var manifest = Path.Combine(WorkDirectory, "app.yaml");
        await File.WriteAllTextAsync(manifest, Manifest(ns, image: "nginx:1.27", greeting: "hello"));

        var first = await Kubectl.RunAsync(["apply", "-f", manifest]);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(first.Stderr.Length == 0, "default validation needs no --validate=false: " + first.Stderr);
        Assert.Contains($"namespace/{ns} created", first.Stdout, StringComparison.Ordinal);
        Assert.Contains("configmap/web-config created", first.Stdout, StringComparison.Ordinal);
        Assert.Contains("service/web created", first.Stdout, StringComparison.Ordinal);
        Assert.Contains("deployment.apps/web created", first.Stdout, StringComparison.Ordinal);
        var service = (await Lab.Store.GetAsync(LabResources.Services, ns, "web")).Object!;
        Assert.StartsWith("127.96.1.", service["spec"]!["clusterIP"]!.ToString(), StringComparison.Ordinal);
        Assert.Equal(8080, (int)service["spec"]!["ports"]![0]!["targetPort"]!);
        var deployments = LabResources.Find("apps", "v1", "deployments")!;
        var deployment = (await Lab.Store.GetAsync(deployments, ns, "web")).Object!;
        Assert.Equal("nginx:1.27", deployment["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.ToString());
        Assert.NotNull(deployment["metadata"]!["annotations"]!["kubectl.kubernetes.io/last-applied-configuration"]);

        await File.WriteAllTextAsync(manifest, Manifest(ns, image: "nginx:1.28", greeting: "bonjour"));
        var second = await Kubectl.RunAsync(["apply", "-f", manifest]);

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains($"namespace/{ns} unchanged", second.Stdout, StringComparison.Ordinal);
        Assert.Contains("configmap/web-config configured", second.Stdout, StringComparison.Ordinal);
        Assert.Contains("deployment.apps/web configured", second.Stdout, StringComparison.Ordinal);
        var config = (await Lab.Store.GetAsync(LabResources.ConfigMaps, ns, "web-config")).Object!;
        Assert.Equal("bonjour", config["data"]!["greeting"]!.ToString());
        deployment = (await Lab.Store.GetAsync(deployments, ns, "web")).Object!;
        var containers = deployment["spec"]!["template"]!["spec"]!["containers"]!.AsArray();
        Assert.Single(containers);
        Assert.Equal("nginx:1.28", containers[0]!["image"]!.ToString());
        Assert.Equal(2, (int)deployment["metadata"]!["generation"]!);
        var serviceAfter = (await Lab.Store.GetAsync(LabResources.Services, ns, "web")).Object!;
        Assert.Equal(service["spec"]!["clusterIP"]!.ToString(), serviceAfter["spec"]!["clusterIP"]!.ToString());
    }

    [Fact]
    public async Task Get_with_json_output_and_label_selector_returns_the_stored_objects()
    {
        var ns = await Lab.NewNamespaceAsync("kget");
        await Lab.Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("red", ns, new Dictionary<string, string> { ["color"] = "red" }));
        await Lab.Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("blue", ns, new Dictionary<string, string> { ["color"] = "blue" }));

        var json = await Kubectl.RunAsync(["get", "configmaps", "-n", ns, "-o", "json"]);
        var table = await Kubectl.RunAsync(["get", "cm", "-n", ns, "-l", "color=red"]);

        Assert.True(json.ExitCode == 0, json.ToString());
        var items = JsonNode.Parse(json.Stdout)!["items"]!.AsArray();
        Assert.Equal(["blue", "red"], items.Select(i => i!["metadata"]!["name"]!.ToString()).Order());
        var stored = (await Lab.Store.GetAsync(LabResources.ConfigMaps, ns, "red")).Object!;
        Assert.Equal(stored["metadata"]!["uid"]!.ToString(), items.Single(i => i!["metadata"]!["name"]!.ToString() == "red")!["metadata"]!["uid"]!.ToString());
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("red", table.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("blue", table.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Annotate_label_merge_patch_and_delete_change_what_the_server_stores()
    {
        var ns = await Lab.NewNamespaceAsync("kmut");
        await Lab.Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("target", ns));

        var annotate = await Kubectl.RunAsync(["annotate", "configmap", "target", "-n", ns, "example.com/owner=team-a"]);
        var label = await Kubectl.RunAsync(["label", "configmap", "target", "-n", ns, "tier=backend"]);
        var patch = await Kubectl.RunAsync(["patch", "configmap", "target", "-n", ns, "--type", "merge", "-p", """{"data":{"k":"patched","extra":"1"}}"""]);

        Assert.True(annotate.ExitCode == 0, annotate.ToString());
        Assert.Contains("configmap/target annotated", annotate.Stdout, StringComparison.Ordinal);
        Assert.True(label.ExitCode == 0, label.ToString());
        Assert.Contains("configmap/target labeled", label.Stdout, StringComparison.Ordinal);
        Assert.True(patch.ExitCode == 0, patch.ToString());
        Assert.Contains("configmap/target patched", patch.Stdout, StringComparison.Ordinal);
        var stored = (await Lab.Store.GetAsync(LabResources.ConfigMaps, ns, "target")).Object!;
        Assert.Equal("team-a", stored["metadata"]!["annotations"]!["example.com/owner"]!.ToString());
        Assert.Equal("backend", stored["metadata"]!["labels"]!["tier"]!.ToString());
        Assert.Equal("patched", stored["data"]!["k"]!.ToString());
        Assert.Equal("1", stored["data"]!["extra"]!.ToString());

        var delete = await Kubectl.RunAsync(["delete", "configmap", "target", "-n", ns]);

        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Contains("configmap \"target\" deleted", delete.Stdout, StringComparison.Ordinal);
        Assert.Equal(StoreOutcome.NotFound, (await Lab.Store.GetAsync(LabResources.ConfigMaps, ns, "target")).Outcome);
    }

    [Fact]
    public async Task Get_watch_prints_a_change_made_through_the_api()
    {
        var ns = await Lab.NewNamespaceAsync("kwatch");
        await Lab.Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("before", ns));
        var output = new StringBuilder();
        var lines = new List<string>();
        using var process = Kubectl.Start(["get", "configmaps", "-n", ns, "-w"]);
        try
        {
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (lines)
                    {
                        lines.Add(e.Data);
                    }
                }
            };
            process.ErrorDataReceived += (_, e) =>
            {
                lock (output)
                {
                    output.AppendLine(e.Data);
                }
            };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await Eventually.TrueAsync(() => Task.FromResult(Seen(lines, "before")), TimeSpan.FromSeconds(20), "kubectl get -w to print the existing configmap");

            var created = await Lab.Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("after", ns));
            Assert.Equal(201, created.Code);

            await Eventually.TrueAsync(() => Task.FromResult(Seen(lines, "after")), TimeSpan.FromSeconds(20), "kubectl get -w to print the new configmap: " + output);
            Assert.False(process.HasExited, "kubectl get -w should keep watching");
        }
        finally
        {
            Kill(process);
        }
    }

    private static bool Seen(List<string> lines, string name)
    {
        lock (lines)
        {
            return lines.Any(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        }
    }

    private static void Kill(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        process.WaitForExit(10_000);
    }

    private static string Manifest(string ns, string image, string greeting) => $"""
        apiVersion: v1
        kind: Namespace
        metadata:
          name: {ns}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: web-config
          namespace: {ns}
          labels:
            app: web
        data:
          greeting: {greeting}
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          namespace: {ns}
        spec:
          selector:
            app: web
          ports:
          - name: http
            port: 80
            targetPort: 8080
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: {ns}
        spec:
          replicas: 2
          selector:
            matchLabels:
              app: web
          template:
            metadata:
              labels:
                app: web
            spec:
              containers:
              - name: web
                image: {image}
                ports:
                - containerPort: 8080
        """;
}
