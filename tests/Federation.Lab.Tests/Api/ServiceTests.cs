using System.Text.Json.Nodes;
using Federation.Lab.ApiServer.Storage;
using Federation.Lab.Tests.Infrastructure;

namespace Federation.Lab.Tests.Api;

/// <summary>Service defaults and ClusterIP allocation from the service range.</summary>
[Collection(LabCollection.Name)]
[Trait("Needs", "etcd")]
public sealed class ServiceTests(LabApiServerFixture lab)
{
    private HttpClient Http => lab.Http;

    [Fact]
    public async Task Services_get_unique_cluster_ips_from_the_range_and_defaults()
    {
        var ns = await lab.NewNamespaceAsync();

        var a = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", Service("a"))).Object;
        var b = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", Service("b"))).Object;

        var ipA = a["spec"]!["clusterIP"]!.ToString();
        var ipB = b["spec"]!["clusterIP"]!.ToString();
        Assert.NotEqual(ipA, ipB);
        Assert.Matches(@"^127\.96\.1\.([1-9]|1[0-4])$", ipA);
        Assert.Matches(@"^127\.96\.1\.([1-9]|1[0-4])$", ipB);
        Assert.Equal(ipA, a["spec"]!["clusterIPs"]![0]!.ToString());
        Assert.Equal("ClusterIP", a["spec"]!["type"]!.ToString());
        var port = a["spec"]!["ports"]![0]!;
        Assert.Equal("TCP", port["protocol"]!.ToString());
        Assert.Equal(80, (int)port["targetPort"]!);
        await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}/services/a");
        await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}/services/b");
    }

    [Fact]
    public async Task A_deleted_service_frees_its_cluster_ip_for_the_next_one()
    {
        var ns = await lab.NewNamespaceAsync();
        var first = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", Service("first"))).Object;
        var ip = first["spec"]!["clusterIP"]!.ToString();

        await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}/services/first");
        var reuse = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", Service("again", clusterIP: ip));

        Assert.Equal(201, reuse.Code);
        Assert.Equal(ip, reuse.Object["spec"]!["clusterIP"]!.ToString());
        await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}/services/again");
    }

    [Fact]
    public async Task Requested_cluster_ips_must_be_free_and_inside_the_range()
    {
        var ns = await lab.NewNamespaceAsync();
        var taken = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", Service("taken"))).Object["spec"]!["clusterIP"]!.ToString();

        var duplicate = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", Service("dup", clusterIP: taken));
        var outside = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", Service("outside", clusterIP: "10.0.0.1"));

        Assert.Equal(422, duplicate.Code);
        Assert.Contains("already allocated", duplicate.Object["message"]!.ToString(), StringComparison.Ordinal);
        Assert.Equal(422, outside.Code);
        Assert.Contains("not in the valid range", outside.Object["message"]!.ToString(), StringComparison.Ordinal);
        Assert.Equal(StoreOutcome.NotFound, (await lab.Store.GetAsync(LabResources.Services, ns, "dup")).Outcome);
        Assert.Equal(StoreOutcome.NotFound, (await lab.Store.GetAsync(LabResources.Services, ns, "outside")).Outcome);
        await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}/services/taken");
    }

    [Fact]
    public async Task Headless_services_stay_headless_and_cluster_ips_are_immutable()
    {
        var ns = await lab.NewNamespaceAsync();
        var headless = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", Service("headless", clusterIP: "None"))).Object;
        var normal = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", Service("normal"))).Object;

        var withoutIp = (JsonObject)normal.DeepClone();
        withoutIp["spec"]!.AsObject().Remove("clusterIP");
        withoutIp["spec"]!.AsObject().Remove("clusterIPs");
        withoutIp["metadata"]!.AsObject().Remove("resourceVersion");
        var kept = await Http.PutJsonAsync($"api/v1/namespaces/{ns}/services/normal", withoutIp);
        var changed = (JsonObject)kept.Object.DeepClone();
        // Any other address of the range: the allocated one is random.
        changed["spec"]!["clusterIP"] = normal["spec"]!["clusterIP"]!.ToString() == "127.96.1.14" ? "127.96.1.13" : "127.96.1.14";
        var immutable = await Http.PutJsonAsync($"api/v1/namespaces/{ns}/services/normal", changed);

        Assert.Equal("None", headless["spec"]!["clusterIP"]!.ToString());
        Assert.Equal(200, kept.Code);
        Assert.Equal(normal["spec"]!["clusterIP"]!.ToString(), kept.Object["spec"]!["clusterIP"]!.ToString());
        Assert.Equal(422, immutable.Code);
        Assert.Equal(normal["spec"]!["clusterIP"]!.ToString(), (await lab.Store.GetAsync(LabResources.Services, ns, "normal")).Object!["spec"]!["clusterIP"]!.ToString());
        await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}/services/normal");
    }

    [Fact]
    public async Task Deleting_a_namespace_frees_the_cluster_ips_of_its_services()
    {
        var ns = await lab.NewNamespaceAsync();
        var ip = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", Service("s"))).Object["spec"]!["clusterIP"]!.ToString();

        await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}");
        var other = await lab.NewNamespaceAsync();
        var reuse = await Http.PostJsonAsync($"api/v1/namespaces/{other}/services", Service("s", clusterIP: ip));

        Assert.Equal(201, reuse.Code);
        await Http.DeleteJsonAsync($"api/v1/namespaces/{other}/services/s");
    }

    private static JsonObject Service(string name, string? clusterIP = null)
    {
        var spec = new JsonObject
        {
            ["selector"] = new JsonObject { ["app"] = name },
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 80 }),
        };
        if (clusterIP is not null)
        {
            spec["clusterIP"] = clusterIP;
        }

        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Service", ["metadata"] = new JsonObject { ["name"] = name }, ["spec"] = spec };
    }
}
