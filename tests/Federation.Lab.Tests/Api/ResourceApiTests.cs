using System.Text.Json.Nodes;
using Federation.Etcd;
using Federation.Lab.ApiServer.Storage;
using Federation.Lab.Tests.Infrastructure;

namespace Federation.Lab.Tests.Api;

/// <summary>The REST verbs and metadata handling, over HTTPS with a client certificate.</summary>
[Collection(LabCollection.Name)]
[Trait("Needs", "etcd")]
public sealed class ResourceApiTests(LabApiServerFixture lab)
{
    private HttpClient Http => lab.Http;

    [Fact]
    public async Task Discovery_documents_list_the_served_resources_in_the_plain_form()
    {
        var version = await Http.GetJsonAsync("version");
        var api = await Http.GetJsonAsync("api", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json");
        var core = await Http.GetJsonAsync("api/v1");
        var groups = await Http.GetJsonAsync("apis");
        var discovery = await Http.GetJsonAsync("apis/discovery.k8s.io/v1");

        Assert.Equal("1", version.Object["major"]!.ToString());
        Assert.Equal("APIVersions", api.Object["kind"]!.ToString());
        var services = core.Object["resources"]!.AsArray().Single(r => r!["name"]!.ToString() == "services")!;
        Assert.Equal("Service", services["kind"]!.ToString());
        Assert.Contains("svc", services["shortNames"]!.AsArray().Select(s => s!.ToString()));
        Assert.Contains(core.Object["resources"]!.AsArray(), r => r!["name"]!.ToString() == "pods/status");
        Assert.Contains(groups.Object["groups"]!.AsArray(), g => g!["name"]!.ToString() == "apps");
        Assert.Contains(discovery.Object["resources"]!.AsArray(), r => r!["name"]!.ToString() == "endpointslices");
        Assert.Equal(404, (await Http.GetJsonAsync("apis/example.com/v1")).Code);
    }

    [Fact]
    public async Task Initial_namespaces_exist()
    {
        var list = await Http.GetJsonAsync("api/v1/namespaces");

        var names = list.Object["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.ToString()).ToList();
        Assert.Contains("default", names);
        Assert.Contains("kube-system", names);
        Assert.Equal("Active", list.Object["items"]![0]!["status"]!["phase"]!.ToString());
    }

    [Fact]
    public async Task Create_fills_metadata_and_the_resource_version_is_the_etcd_mod_revision()
    {
        var ns = await lab.NewNamespaceAsync();

        var created = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("one"));

        Assert.Equal(201, created.Code);
        var metadata = created.Object["metadata"]!;
        Assert.True(Guid.TryParse(metadata["uid"]!.ToString(), out _));
        Assert.True(DateTimeOffset.TryParse(metadata["creationTimestamp"]!.ToString(), out var createdAt));
        Assert.InRange(createdAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal(ns, metadata["namespace"]!.ToString());
        var kv = await lab.EtcdClient.GetAsync($"/registry/core/configmaps/{ns}/one");
        Assert.NotNull(kv);
        Assert.Equal(kv.ModRevision.ToString(System.Globalization.CultureInfo.InvariantCulture), metadata["resourceVersion"]!.ToString());
        Assert.DoesNotContain("resourceVersion", kv.Value.ToStringUtf8(), StringComparison.Ordinal);
        var fetched = await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps/one");
        Assert.Equal(metadata["uid"]!.ToString(), fetched.Object["metadata"]!["uid"]!.ToString());
    }

    [Fact]
    public async Task Creating_an_existing_object_is_AlreadyExists_and_changes_nothing()
    {
        var ns = await lab.NewNamespaceAsync();
        var first = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("dup", data: "first"));

        var second = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("dup", data: "second"));

        Assert.Equal(409, second.Code);
        Assert.Equal("AlreadyExists", second.Object["reason"]!.ToString());
        Assert.Equal("configmaps \"dup\" already exists", second.Object["message"]!.ToString());
        var stored = (await lab.Store.GetAsync(LabResources.ConfigMaps, ns, "dup")).Object!;
        Assert.Equal("first", stored["data"]!["k"]!.ToString());
        Assert.Equal(first.Object["metadata"]!["resourceVersion"]!.ToString(), stored["metadata"]!["resourceVersion"]!.ToString());
    }

    [Fact]
    public async Task Update_with_a_stale_resource_version_is_a_Conflict_and_with_the_current_one_succeeds()
    {
        var ns = await lab.NewNamespaceAsync();
        var created = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("cfg", data: "v1"))).Object;
        var update = (JsonObject)created.DeepClone();
        update["data"]!["k"] = "v2";
        var ok = await Http.PutJsonAsync($"api/v1/namespaces/{ns}/configmaps/cfg", update);

        var stale = (JsonObject)created.DeepClone();
        stale["data"]!["k"] = "lost";
        var conflict = await Http.PutJsonAsync($"api/v1/namespaces/{ns}/configmaps/cfg", stale);

        Assert.Equal(200, ok.Code);
        Assert.True(long.Parse(ok.Object["metadata"]!["resourceVersion"]!.ToString()) > long.Parse(created["metadata"]!["resourceVersion"]!.ToString()));
        Assert.Equal(created["metadata"]!["uid"]!.ToString(), ok.Object["metadata"]!["uid"]!.ToString());
        Assert.Equal(409, conflict.Code);
        Assert.Equal("Conflict", conflict.Object["reason"]!.ToString());
        Assert.Equal("v2", (await lab.Store.GetAsync(LabResources.ConfigMaps, ns, "cfg")).Object!["data"]!["k"]!.ToString());
    }

    [Fact]
    public async Task Generation_grows_on_spec_changes_only()
    {
        var ns = await lab.NewNamespaceAsync();
        var deployment = new JsonObject
        {
            ["apiVersion"] = "apps/v1",
            ["kind"] = "Deployment",
            ["metadata"] = new JsonObject { ["name"] = "d" },
            ["spec"] = new JsonObject { ["replicas"] = 1 },
        };
        var created = await Http.PostJsonAsync($"apis/apps/v1/namespaces/{ns}/deployments", deployment);

        var labelled = await Http.PatchJsonAsync($"apis/apps/v1/namespaces/{ns}/deployments/d", JsonNode.Parse("""{"metadata":{"labels":{"a":"b"}}}""")!, "application/merge-patch+json");
        var scaled = await Http.PatchJsonAsync($"apis/apps/v1/namespaces/{ns}/deployments/d", JsonNode.Parse("""{"spec":{"replicas":3}}""")!, "application/merge-patch+json");

        Assert.Equal(1, (int)created.Object["metadata"]!["generation"]!);
        Assert.Equal(1, (int)labelled.Object["metadata"]!["generation"]!);
        Assert.Equal(2, (int)scaled.Object["metadata"]!["generation"]!);
    }

    [Fact]
    public async Task Patches_merge_strategic_and_json_change_the_stored_object()
    {
        var ns = await lab.NewNamespaceAsync();
        var pod = JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":"1","b":"2"}},
             "spec":{"containers":[{"name":"app","image":"app:1"},{"name":"side","image":"side:1"}]}}
            """)!;
        Assert.Equal(201, (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/pods", pod)).Code);
        var path = $"api/v1/namespaces/{ns}/pods/p";

        var merge = await Http.PatchJsonAsync(path, JsonNode.Parse("""{"metadata":{"labels":{"a":null,"c":"3"}}}""")!, "application/merge-patch+json");
        var strategic = await Http.PatchJsonAsync(path, JsonNode.Parse("""{"spec":{"containers":[{"name":"side","image":"side:2"}]}}""")!, "application/strategic-merge-patch+json");
        var json = await Http.PatchJsonAsync(path, JsonNode.Parse("""[{"op":"add","path":"/metadata/annotations","value":{"x":"y"}},{"op":"replace","path":"/spec/containers/0/image","value":"app:2"}]""")!, "application/json-patch+json");
        var apply = await Http.PatchJsonAsync(path, JsonNode.Parse("{}")!, "application/apply-patch+yaml");
        var missing = await Http.PatchJsonAsync($"api/v1/namespaces/{ns}/pods/absent", JsonNode.Parse("{}")!, "application/merge-patch+json");

        Assert.Equal(200, merge.Code);
        Assert.Equal(200, strategic.Code);
        Assert.Equal(200, json.Code);
        Assert.Equal(415, apply.Code);
        Assert.Equal(404, missing.Code);
        var stored = (await lab.Store.GetAsync(LabResources.Pods, ns, "p")).Object!;
        var labels = stored["metadata"]!["labels"]!.AsObject();
        Assert.False(labels.ContainsKey("a"));
        Assert.Equal("3", labels["c"]!.ToString());
        var containers = stored["spec"]!["containers"]!.AsArray();
        Assert.Equal(["app:2", "side:2"], containers.Select(c => c!["image"]!.ToString()));
        Assert.Equal("y", stored["metadata"]!["annotations"]!["x"]!.ToString());
    }

    [Fact]
    public async Task Status_subresource_changes_only_the_status()
    {
        var ns = await lab.NewNamespaceAsync();
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/pods", JsonNode.Parse("""{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}""")!);

        var patched = await Http.PatchJsonAsync($"api/v1/namespaces/{ns}/pods/p/status", JsonNode.Parse("""{"status":{"phase":"Running","podIP":"10.0.0.5"},"spec":{"nodeName":"ignored"}}""")!, "application/merge-patch+json");

        Assert.Equal(200, patched.Code);
        var stored = (await lab.Store.GetAsync(LabResources.Pods, ns, "p")).Object!;
        Assert.Equal("10.0.0.5", stored["status"]!["podIP"]!.ToString());
        Assert.Null(stored["spec"]!["nodeName"]);
    }

    [Fact]
    public async Task Delete_returns_the_object_honours_preconditions_and_removes_it()
    {
        var ns = await lab.NewNamespaceAsync();
        var created = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/secrets", JsonNode.Parse("""{"metadata":{"name":"s"},"data":{"k":"dg=="}}""")!)).Object;

        var stale = await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}/secrets/s", JsonNode.Parse("""{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"resourceVersion":"1"}}"""));
        var deleted = await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}/secrets/s");
        var again = await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}/secrets/s");

        Assert.Equal(409, stale.Code);
        Assert.Equal(200, deleted.Code);
        Assert.Equal(created["metadata"]!["uid"]!.ToString(), deleted.Object["metadata"]!["uid"]!.ToString());
        Assert.Equal(404, again.Code);
        Assert.Equal("NotFound", again.Object["reason"]!.ToString());
        Assert.Equal("secrets \"s\" not found", again.Object["message"]!.ToString());
        Assert.Null(await lab.EtcdClient.GetAsync($"/registry/core/secrets/{ns}/s"));
    }

    [Fact]
    public async Task Cluster_scoped_and_grouped_objects_use_their_own_keys()
    {
        var node = await Http.PostJsonAsync("api/v1/nodes", JsonNode.Parse("""{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a-1"}}""")!);
        var ns = await lab.NewNamespaceAsync();
        var lease = await Http.PostJsonAsync($"apis/coordination.k8s.io/v1/namespaces/{ns}/leases", JsonNode.Parse("""{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},"spec":{"holderIdentity":"x"}}""")!);

        Assert.Equal(201, node.Code);
        Assert.Null(node.Object["metadata"]!["namespace"]);
        Assert.NotNull(await lab.EtcdClient.GetAsync("/registry/core/nodes/node-a-1"));
        Assert.Equal(201, lease.Code);
        Assert.NotNull(await lab.EtcdClient.GetAsync($"/registry/coordination.k8s.io/leases/{ns}/l"));
        Assert.Equal(200, (await Http.DeleteJsonAsync("api/v1/nodes/node-a-1")).Code);
    }

    [Fact]
    public async Task Deleting_a_namespace_deletes_its_objects()
    {
        var ns = await lab.NewNamespaceAsync();
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("inside"));

        var deleted = await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}");

        Assert.Equal(200, deleted.Code);
        Assert.Equal(404, (await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps/inside")).Code);
        var creating = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("late"));
        Assert.Equal(404, creating.Code);
        Assert.Equal($"namespaces \"{ns}\" not found", creating.Object["message"]!.ToString());
    }

    [Fact]
    public async Task A_client_without_a_certificate_or_with_a_foreign_one_is_refused()
    {
        using var anonymous = lab.CreateClient(null);
        using var foreignCa = Federation.Lab.ApiServer.Pki.LabCertificateAuthority.Create("other-ca");
        using var foreign = lab.CreateClient(foreignCa.IssueClient("mallory"));

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => anonymous.GetAsync("api/v1/namespaces"));
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => foreign.GetAsync("api/v1/namespaces"));
    }

    [Fact]
    public async Task Yaml_bodies_are_accepted()
    {
        var ns = await lab.NewNamespaceAsync();
        var yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  port: \"8080\"\n  enabled: 'true'\n";

        var created = await Http.SendRawAsync(HttpMethod.Post, $"api/v1/namespaces/{ns}/configmaps", yaml, "application/yaml");

        Assert.Equal(201, created.Code);
        var stored = (await lab.Store.GetAsync(LabResources.ConfigMaps, ns, "from-yaml")).Object!;
        Assert.Equal("8080", stored["data"]!["port"]!.GetValue<string>());
        Assert.Equal("true", stored["data"]!["enabled"]!.GetValue<string>());
    }
}
