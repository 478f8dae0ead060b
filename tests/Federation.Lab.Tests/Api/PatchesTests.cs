using System.Text.Json.Nodes;
using Federation.Lab.ApiServer.Api;

namespace Federation.Lab.Tests.Api;

public sealed class PatchesTests
{
    [Fact]
    public void Merge_patch_follows_rfc_7386()
    {
        var target = JsonNode.Parse("""{"a":"b","c":{"d":"e","f":"g"},"l":[1,2]}""");

        var result = Patches.Merge(target, JsonNode.Parse("""{"a":"z","c":{"f":null},"l":[3]}"""));

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"a":"z","c":{"d":"e"},"l":[3]}"""), result), result!.ToJsonString());
    }

    [Fact]
    public void Strategic_merge_patch_merges_containers_by_name_and_honours_delete_directives()
    {
        var target = JsonNode.Parse("""{"spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]},"metadata":{"finalizers":["x"]}}""");
        var patch = JsonNode.Parse("""
            {"$setElementOrder/containers":[{"name":"a"},{"name":"c"}],
             "spec":{"containers":[{"name":"b","$patch":"delete"},{"name":"c","image":"c:1"},{"name":"a","image":"a:2"}]},
             "metadata":{"finalizers":["y"]}}
            """);

        var result = Patches.Strategic(target, patch)!;

        Assert.Equal(["a:2", "c:1"], result["spec"]!["containers"]!.AsArray().Select(c => c!["image"]!.ToString()));
        Assert.Equal(["x", "y"], result["metadata"]!["finalizers"]!.AsArray().Select(f => f!.ToString()));
        Assert.Null(result["$setElementOrder/containers"]);
    }

    [Fact]
    public void Json_patch_applies_operations_in_order_and_fails_on_a_failed_test()
    {
        var target = JsonNode.Parse("""{"a":[1,2],"b":{"c":1}}""");

        var result = Patches.Json(target, JsonNode.Parse("""[{"op":"add","path":"/a/-","value":3},{"op":"move","from":"/b/c","path":"/d"},{"op":"remove","path":"/b"},{"op":"test","path":"/d","value":1}]"""));

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"a":[1,2,3],"d":1}"""), result), result!.ToJsonString());
        Assert.Throws<PatchException>(() => Patches.Json(target, JsonNode.Parse("""[{"op":"test","path":"/b/c","value":2}]""")));
        Assert.Throws<PatchException>(() => Patches.Json(target, JsonNode.Parse("""[{"op":"remove","path":"/missing"}]""")));
    }
}
