using System.Text.Json.Nodes;
using Federation.Lab.Tests.Infrastructure;

namespace Federation.Lab.Tests.Api;

/// <summary>Server-side tables: what <c>kubectl get</c> asks for with <c>Accept: …;as=Table;…</c>.</summary>
[Collection(LabCollection.Name)]
[Trait("Needs", "etcd")]
public sealed class TableTests(LabApiServerFixture lab)
{
    /// <summary>The Accept header kubectl get sends.</summary>
    private const string KubectlAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

    private HttpClient Http => lab.Http;

    [Fact]
    public async Task A_list_asked_for_as_a_table_has_columns_rows_and_the_metadata_of_each_object()
    {
        var ns = await lab.NewNamespaceAsync("table");
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("a", labels: new Dictionary<string, string> { ["app"] = "web" }));
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("b"));

        var response = await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps", KubectlAccept);

        Assert.Equal(200, response.Code);
        var table = response.Object;
        Assert.Equal("Table", table["kind"]!.ToString());
        Assert.Equal("meta.k8s.io/v1", table["apiVersion"]!.ToString());
        Assert.True(long.Parse(table["metadata"]!["resourceVersion"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(["Name", "Data", "Age"], Columns(table));
        var rows = table["rows"]!.AsArray();
        Assert.Equal(["a", "b"], rows.Select(r => r!["cells"]![0]!.ToString()));
        Assert.Equal(1, (int)rows[0]!["cells"]![1]!);
        Assert.Matches(@"^\d+s$", rows[0]!["cells"]![2]!.ToString());
        var partial = rows[0]!["object"]!;
        Assert.Equal("PartialObjectMetadata", partial["kind"]!.ToString());
        Assert.Equal("meta.k8s.io/v1", partial["apiVersion"]!.ToString());
        Assert.Equal(ns, partial["metadata"]!["namespace"]!.ToString());
        Assert.Equal("web", partial["metadata"]!["labels"]!["app"]!.ToString());
        Assert.Null(partial["data"]);
    }

    [Fact]
    public async Task IncludeObject_chooses_between_the_whole_object_and_none()
    {
        var ns = await lab.NewNamespaceAsync("table");
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("a", data: "payload"));

        var whole = (await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps?includeObject=Object", KubectlAccept)).Object;
        var none = (await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps?includeObject=None", KubectlAccept)).Object;
        var bad = await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps?includeObject=Everything", KubectlAccept);

        var row = whole["rows"]![0]!;
        Assert.Equal("ConfigMap", row["object"]!["kind"]!.ToString());
        Assert.Equal("payload", row["object"]!["data"]!["k"]!.ToString());
        Assert.Null(none["rows"]![0]!["object"]);
        Assert.Equal("a", none["rows"]![0]!["cells"]![0]!.ToString());
        Assert.Equal(400, bad.Code);
        Assert.Contains("includeObject", bad.Object["message"]!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_object_asked_for_as_a_v1beta1_table_is_a_table_of_one_row()
    {
        var ns = await lab.NewNamespaceAsync("table");
        var created = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("one"))).Object;

        var table = (await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps/one", "application/json;as=Table;v=v1beta1;g=meta.k8s.io")).Object;
        var missing = await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps/missing", KubectlAccept);

        Assert.Equal("Table", table["kind"]!.ToString());
        Assert.Equal("meta.k8s.io/v1beta1", table["apiVersion"]!.ToString());
        Assert.Equal(created["metadata"]!["resourceVersion"]!.ToString(), table["metadata"]!["resourceVersion"]!.ToString());
        Assert.Equal("one", Assert.Single(table["rows"]!.AsArray())!["cells"]![0]!.ToString());
        Assert.Equal(404, missing.Code);
        Assert.Equal("Status", missing.Object["kind"]!.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("application/json")]
    [InlineData("application/vnd.kubernetes.protobuf, application/json;as=Table;v=v1;g=meta.k8s.io")]
    [InlineData("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io, application/json")]
    [InlineData("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io, application/json")]
    public async Task Requests_that_do_not_put_a_JSON_table_first_get_the_plain_list(string? accept)
    {
        var ns = await lab.NewNamespaceAsync("table");
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("a"));

        var list = (await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps", accept)).Object;

        Assert.Equal("ConfigMapList", list["kind"]!.ToString());
        Assert.Equal("v", list["items"]![0]!["data"]!["k"]!.ToString());
    }

    [Fact]
    public async Task A_watch_as_a_table_sends_one_row_per_event_and_the_columns_once()
    {
        var ns = await lab.NewNamespaceAsync("table");
        var list = (await Http.GetJsonAsync($"api/v1/namespaces/{ns}/services", KubectlAccept)).Object;
        var revision = list["metadata"]!["resourceVersion"]!.ToString();
        await using var watch = await WatchStream.OpenAsync(Http, $"api/v1/namespaces/{ns}/services?watch=true&resourceVersion={revision}", KubectlAccept);

        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", Service("first", 80));
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", Service("second", 443));
        var first = (await watch.NextOfTypeAsync("ADDED"))["object"]!;
        var second = (await watch.NextOfTypeAsync("ADDED"))["object"]!;

        Assert.Equal("Table", first["kind"]!.ToString());
        Assert.Equal(["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"], Columns(first.AsObject()));
        Assert.Equal("80/TCP", first["rows"]![0]!["cells"]![4]!.ToString());
        Assert.Equal("first", first["rows"]![0]!["object"]!["metadata"]!["name"]!.ToString());
        Assert.Null(second["columnDefinitions"]);
        Assert.Equal("443/TCP", Assert.Single(second["rows"]!.AsArray())!["cells"]![4]!.ToString());
    }

    private static List<string> Columns(JsonObject table) => [.. table["columnDefinitions"]!.AsArray().Select(c => c!["name"]!.ToString())];

    private static JsonObject Service(string name, int port) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["metadata"] = new JsonObject { ["name"] = name },
        ["spec"] = new JsonObject { ["ports"] = new JsonArray(new JsonObject { ["port"] = port }) },
    };
}
