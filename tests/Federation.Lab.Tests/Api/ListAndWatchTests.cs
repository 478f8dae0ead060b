using System.Globalization;
using System.Text.Json.Nodes;
using Federation.Lab.Tests.Infrastructure;

namespace Federation.Lab.Tests.Api;

/// <summary>Lists (paging, selectors) and watches (from a revision, bookmarks, compaction, timeouts).</summary>
[Collection(LabCollection.Name)]
[Trait("Needs", "etcd")]
public sealed class ListAndWatchTests(LabApiServerFixture lab)
{
    private HttpClient Http => lab.Http;

    [Fact]
    public async Task Paging_with_continue_returns_every_item_once_from_one_snapshot()
    {
        var ns = await lab.NewNamespaceAsync();
        for (var i = 0; i < 5; i++)
        {
            await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap($"cm-{i}"));
        }

        var first = (await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps?limit=2")).Object;
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("cm-9-late"));
        var names = Names(first);
        var revision = first["metadata"]!["resourceVersion"]!.ToString();
        var token = first["metadata"]!["continue"]?.ToString();
        var pages = 1;
        while (token is not null)
        {
            var page = (await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps?limit=2&continue={Uri.EscapeDataString(token)}")).Object;
            Assert.Equal(revision, page["metadata"]!["resourceVersion"]!.ToString());
            names.AddRange(Names(page));
            token = page["metadata"]!["continue"]?.ToString();
            pages++;
        }

        Assert.Equal(3, pages);
        Assert.Equal(["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"], names);
        Assert.Equal("ConfigMapList", first["kind"]!.ToString());
    }

    [Fact]
    public async Task A_continue_token_older_than_the_compaction_is_Gone()
    {
        var ns = await lab.NewNamespaceAsync();
        for (var i = 0; i < 3; i++)
        {
            await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap($"cm-{i}"));
        }

        var first = (await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps?limit=1")).Object;
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("later"));
        await CompactToNowAsync();

        var next = await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps?limit=1&continue={Uri.EscapeDataString(first["metadata"]!["continue"]!.ToString())}");

        Assert.Equal(410, next.Code);
        Assert.Equal("Expired", next.Object["reason"]!.ToString());
    }

    [Fact]
    public async Task Label_and_field_selectors_filter_lists()
    {
        var ns = await lab.NewNamespaceAsync();
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("a", labels: new Dictionary<string, string> { ["app"] = "web", ["tier"] = "front" }));
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("b", labels: new Dictionary<string, string> { ["app"] = "web", ["tier"] = "back" }));
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("c", labels: new Dictionary<string, string> { ["app"] = "db" }));
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("d"));

        async Task<List<string>> Select(string query) => Names((await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps?{query}")).Object);

        Assert.Equal(["a", "b"], await Select("labelSelector=app%3Dweb"));
        Assert.Equal(["a", "b"], await Select("labelSelector=app%3D%3Dweb"));
        Assert.Equal(["c", "d"], await Select("labelSelector=app!%3Dweb"));
        Assert.Equal(["a"], await Select("labelSelector=" + Uri.EscapeDataString("tier in (front,side),app in (web)")));
        Assert.Equal(["c"], await Select("labelSelector=" + Uri.EscapeDataString("app in (db,x)")));
        Assert.Equal(["c", "d"], await Select("labelSelector=" + Uri.EscapeDataString("app notin (web)")));
        Assert.Equal(["a", "b", "c"], await Select("labelSelector=app"));
        Assert.Equal(["d"], await Select("labelSelector=!app"));
        Assert.Equal(["b"], await Select("fieldSelector=metadata.name%3Db"));
        Assert.Equal(["a", "c", "d"], await Select("fieldSelector=metadata.name!%3Db"));
        var allNamespaces = Names((await Http.GetJsonAsync($"api/v1/configmaps?fieldSelector=metadata.namespace%3D{ns}")).Object);
        Assert.Equal(["a", "b", "c", "d"], allNamespaces);
        Assert.Equal(400, (await Http.GetJsonAsync($"api/v1/namespaces/{ns}/configmaps?labelSelector=" + Uri.EscapeDataString("app in web"))).Code);
    }

    [Fact]
    public async Task Watch_from_a_resource_version_sees_later_changes_with_deleted_objects()
    {
        var ns = await lab.NewNamespaceAsync();
        var created = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("w", data: "1"))).Object;
        var revision = created["metadata"]!["resourceVersion"]!.ToString();
        await using var watch = await WatchStream.OpenAsync(Http, $"api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={revision}");

        var update = (JsonObject)created.DeepClone();
        update["data"]!["k"] = "2";
        await Http.PutJsonAsync($"api/v1/namespaces/{ns}/configmaps/w", update);
        await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}/configmaps/w");

        var modified = await watch.NextOfTypeAsync("MODIFIED");
        var deleted = await watch.NextOfTypeAsync("DELETED");
        Assert.Equal(200, watch.StatusCode);
        Assert.Equal("2", modified["object"]!["data"]!["k"]!.ToString());
        Assert.Equal("w", deleted["object"]!["metadata"]!["name"]!.ToString());
        Assert.Equal("2", deleted["object"]!["data"]!["k"]!.ToString());
        Assert.True(Revision(deleted) > Revision(modified));
    }

    [Fact]
    public async Task Watch_from_zero_starts_with_the_existing_objects_then_changes_on_the_watch_path()
    {
        var ns = await lab.NewNamespaceAsync();
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("existing"));
        await using var watch = await WatchStream.OpenAsync(Http, $"api/v1/watch/namespaces/{ns}/configmaps?resourceVersion=0");

        var initial = await watch.NextAsync();
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("new"));
        var added = await watch.NextOfTypeAsync("ADDED");

        Assert.Equal("ADDED", initial!["type"]!.ToString());
        Assert.Equal("existing", initial["object"]!["metadata"]!["name"]!.ToString());
        Assert.Equal("new", added["object"]!["metadata"]!["name"]!.ToString());
    }

    [Fact]
    public async Task Watch_with_a_label_selector_reports_objects_leaving_the_selection_as_deleted()
    {
        var ns = await lab.NewNamespaceAsync();
        var created = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("sel", labels: new Dictionary<string, string> { ["app"] = "web" }))).Object;
        await using var watch = await WatchStream.OpenAsync(Http, $"api/v1/namespaces/{ns}/configmaps?watch=1&labelSelector=app%3Dweb&resourceVersion={created["metadata"]!["resourceVersion"]}");

        await Http.PatchJsonAsync($"api/v1/namespaces/{ns}/configmaps/sel", JsonNode.Parse("""{"metadata":{"labels":{"app":"db"}}}""")!, "application/merge-patch+json");

        var left = await watch.NextOfTypeAsync("DELETED");
        Assert.Equal("sel", left["object"]!["metadata"]!["name"]!.ToString());
    }

    [Fact]
    public async Task Watch_with_bookmarks_gets_periodic_bookmark_events_with_a_resource_version()
    {
        var ns = await lab.NewNamespaceAsync();
        var created = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("b"))).Object;
        var revision = Revision(new JsonObject { ["object"] = created.DeepClone() });
        await using var watch = await WatchStream.OpenAsync(Http, $"api/v1/namespaces/{ns}/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion={revision}");

        var bookmark = await watch.NextOfTypeAsync("BOOKMARK");
        var another = await watch.NextOfTypeAsync("BOOKMARK");

        Assert.Equal("ConfigMap", bookmark["object"]!["kind"]!.ToString());
        Assert.Equal(revision, Revision(bookmark));
        Assert.Equal(revision, Revision(another));
    }

    [Fact]
    public async Task Watch_from_a_compacted_resource_version_ends_with_a_410_error_event()
    {
        var ns = await lab.NewNamespaceAsync();
        var created = (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("old"))).Object;
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("newer"));
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("newest"));
        await CompactToNowAsync();

        await using var watch = await WatchStream.OpenAsync(Http, $"api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={created["metadata"]!["resourceVersion"]}");
        var error = await watch.NextAsync();
        var end = await watch.NextAsync();

        Assert.Equal("ERROR", error!["type"]!.ToString());
        Assert.Equal(410, (int)error["object"]!["code"]!);
        Assert.Equal("Expired", error["object"]!["reason"]!.ToString());
        Assert.StartsWith("too old resource version", error["object"]!["message"]!.ToString(), StringComparison.Ordinal);
        Assert.Null(end);
    }

    [Fact]
    public async Task Watch_timeout_seconds_ends_the_stream()
    {
        var ns = await lab.NewNamespaceAsync();
        await using var watch = await WatchStream.OpenAsync(Http, $"api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1");

        var end = await watch.NextAsync(TimeSpan.FromSeconds(10));

        Assert.Null(end);
    }

    private async Task CompactToNowAsync()
    {
        var status = await lab.EtcdClient.StatusAsync();
        await lab.EtcdClient.CompactAsync(status.Header.Revision, physical: true);
    }

    private static long Revision(JsonObject watchEvent)
        => long.Parse(watchEvent["object"]!["metadata"]!["resourceVersion"]!.ToString(), CultureInfo.InvariantCulture);

    private static List<string> Names(JsonObject list)
        => [.. list["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.ToString())];
}
