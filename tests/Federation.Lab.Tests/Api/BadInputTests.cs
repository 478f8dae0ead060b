using System.Text.Json.Nodes;
using Federation.Etcd;
using Federation.Lab.Tests.Infrastructure;

namespace Federation.Lab.Tests.Api;

/// <summary>Rejected requests get the right Status code and message, and change nothing in etcd.</summary>
[Collection(LabCollection.Name)]
[Trait("Needs", "etcd")]
public sealed class BadInputTests(LabApiServerFixture lab)
{
    private HttpClient Http => lab.Http;

    [Fact]
    public async Task Malformed_json_and_yaml_bodies_are_bad_requests()
    {
        var ns = await lab.NewNamespaceAsync();
        var before = await RevisionAsync();

        var json = await Http.SendRawAsync(HttpMethod.Post, $"api/v1/namespaces/{ns}/configmaps", "{\"metadata\": {\"name\": \"x\"", "application/json");
        var yaml = await Http.SendRawAsync(HttpMethod.Post, $"api/v1/namespaces/{ns}/configmaps", "metadata:\n  name: [x\n", "application/yaml");
        var array = await Http.SendRawAsync(HttpMethod.Post, $"api/v1/namespaces/{ns}/configmaps", "[1,2]", "application/json");

        AssertStatus(json, 400, "BadRequest", "not valid JSON");
        AssertStatus(yaml, 400, "BadRequest", "not valid YAML");
        AssertStatus(array, 400, "BadRequest", "must be a JSON object");
        Assert.Equal(before, await RevisionAsync());
    }

    [Fact]
    public async Task Unknown_resources_are_not_found()
    {
        var ns = await lab.NewNamespaceAsync();
        var before = await RevisionAsync();

        var post = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/widgets", HttpJson.ConfigMap("x"));
        var get = await Http.GetJsonAsync("apis/apps/v1/namespaces/default/widgets");

        AssertStatus(post, 404, "NotFound", "could not find the requested resource");
        AssertStatus(get, 404, "NotFound", "could not find the requested resource");
        Assert.Equal(before, await RevisionAsync());
    }

    [Fact]
    public async Task A_body_for_another_api_version_kind_or_namespace_is_a_bad_request()
    {
        var ns = await lab.NewNamespaceAsync();
        var before = await RevisionAsync();
        var wrongVersion = HttpJson.ConfigMap("x");
        wrongVersion["apiVersion"] = "apps/v1";
        var wrongKind = HttpJson.ConfigMap("y");
        wrongKind["kind"] = "Secret";

        var version = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", wrongVersion);
        var kind = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", wrongKind);
        var @namespace = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("z", "default"));

        AssertStatus(version, 400, "BadRequest", "the API version in the data (apps/v1) does not match the expected API version (v1)");
        AssertStatus(kind, 400, "BadRequest", "the kind in the data (Secret) does not match");
        AssertStatus(@namespace, 400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
        Assert.Equal(before, await RevisionAsync());
    }

    [Fact]
    public async Task Names_that_break_the_dns_rules_are_invalid()
    {
        var ns = await lab.NewNamespaceAsync();
        var before = await RevisionAsync();

        var configMap = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("Bad_Name"));
        var namespaceName = await Http.PostJsonAsync("api/v1/namespaces", new JsonObject { ["metadata"] = new JsonObject { ["name"] = "has.dots" } });
        var service = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", new JsonObject { ["metadata"] = new JsonObject { ["name"] = "1svc" } });
        var missing = await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", new JsonObject { ["metadata"] = new JsonObject() });

        AssertStatus(configMap, 422, "Invalid", "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of");
        Assert.Equal("metadata.name", configMap.Object["details"]!["causes"]![0]!["field"]!.ToString());
        AssertStatus(namespaceName, 422, "Invalid", "a lowercase RFC 1123 label must consist of");
        AssertStatus(service, 422, "Invalid", "a DNS-1035 label must consist of");
        AssertStatus(missing, 422, "Invalid", "name or generateName is required");
        Assert.Equal(before, await RevisionAsync());
    }

    [Fact]
    public async Task Put_with_a_name_other_than_the_url_is_a_bad_request()
    {
        var ns = await lab.NewNamespaceAsync();
        await Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", HttpJson.ConfigMap("real"));
        var before = await RevisionAsync();

        var put = await Http.PutJsonAsync($"api/v1/namespaces/{ns}/configmaps/real", HttpJson.ConfigMap("other"));

        AssertStatus(put, 400, "BadRequest", "does not match the name on the URL");
        Assert.Equal(before, await RevisionAsync());
    }

    /// <summary>Every stored key with its mod revision (EndpointSlices left out: the lab's controller writes those on its own).</summary>
    private async Task<string> RevisionAsync()
    {
        var listing = await lab.EtcdClient.ListPrefixAsync("/registry/");
        return string.Join('\n', listing.Kvs.Select(kv => $"{kv.Key.ToStringUtf8()}@{kv.ModRevision}").Where(k => !k.Contains("/endpointslices/", StringComparison.Ordinal)));
    }

    private static void AssertStatus(ApiResponse response, int code, string reason, string message)
    {
        Assert.True(response.Code == code, $"expected {code}, got {response.Code}: {response.Text}");
        Assert.Equal("Status", response.Object["kind"]!.ToString());
        Assert.Equal("Failure", response.Object["status"]!.ToString());
        Assert.Equal(code, (int)response.Object["code"]!);
        Assert.Equal(reason, response.Object["reason"]!.ToString());
        Assert.Contains(message, response.Object["message"]!.ToString(), StringComparison.Ordinal);
    }
}
