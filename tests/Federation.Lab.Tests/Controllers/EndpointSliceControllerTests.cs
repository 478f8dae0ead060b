using System.Text.Json.Nodes;
using Federation.Lab.Tests.Infrastructure;

namespace Federation.Lab.Tests;

/// <summary>The EndpointSlice controller inside the lab server, driven through the REST API.</summary>
[Collection(LabCollection.Name)]
[Trait("Needs", "etcd")]
public sealed class EndpointSliceControllerTests(LabApiServerFixture lab)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private HttpClient Http => lab.Http;

    private static JsonObject HeadlessService(string name, string targetPort) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["metadata"] = new JsonObject { ["name"] = name },
        ["spec"] = new JsonObject
        {
            // Headless: the shared test range has few addresses; slices are made all the same.
            ["clusterIP"] = "None",
            ["selector"] = new JsonObject { ["app"] = name },
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 80, ["targetPort"] = targetPort == "8080" ? 8080 : targetPort }),
        },
    };

    private static JsonObject PodObject(string name, string app, string ip, bool ready, int containerPort = 8080) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Pod",
        ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = new JsonObject { ["app"] = app } },
        ["spec"] = new JsonObject
        {
            ["nodeName"] = "node-1",
            ["containers"] = new JsonArray(new JsonObject
            {
                ["name"] = "main",
                ["image"] = "lab/http",
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "web", ["containerPort"] = containerPort }),
            }),
        },
        ["status"] = new JsonObject
        {
            ["phase"] = "Running",
            ["podIP"] = ip,
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = ready ? "True" : "False" }),
        },
    };

    private async Task<List<JsonObject>> SlicesAsync(string ns, string service)
    {
        var response = await Http.GetJsonAsync($"apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?labelSelector=kubernetes.io/service-name%3D{service}");
        Assert.Equal(200, response.Code);
        return [.. response.Object["items"]!.AsArray().Select(i => i!.AsObject())];
    }

    private static IEnumerable<(string Ip, bool Ready)> Endpoints(IEnumerable<JsonObject> slices)
        => slices.SelectMany(s => s["endpoints"]?.AsArray() ?? [])
            .Select(e => (e!["addresses"]![0]!.GetValue<string>(), e["conditions"]!["ready"]!.GetValue<bool>()))
            .OrderBy(e => e.Item1, StringComparer.Ordinal);

    private async Task WaitForEndpointsAsync(string ns, string service, params (string Ip, bool Ready)[] expected)
    {
        try
        {
            await Eventually.TrueAsync(async () => Endpoints(await SlicesAsync(ns, service)).SequenceEqual(expected), Timeout, $"endpoints of {service}");
        }
        catch (TimeoutException ex)
        {
            var actual = string.Join(", ", Endpoints(await SlicesAsync(ns, service)));
            throw new TimeoutException($"{ex.Message}; expected [{string.Join(", ", expected)}], have [{actual}]", ex);
        }
    }

    [Fact]
    public async Task Slices_follow_pods_coming_getting_ready_and_going()
    {
        var ns = await lab.NewNamespaceAsync("eps");
        Assert.Equal(201, (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", HeadlessService("web", "8080"))).Code);

        // No pods yet: one placeholder slice, owned by the Service, labelled for it.
        await Eventually.TrueAsync(async () => (await SlicesAsync(ns, "web")).Count == 1, Timeout, "the placeholder slice");
        var placeholder = (await SlicesAsync(ns, "web"))[0];
        Assert.Equal("endpointslice-controller.k8s.io", placeholder["metadata"]!["labels"]!["endpointslice.kubernetes.io/managed-by"]!.GetValue<string>());
        Assert.Equal("Service", placeholder["metadata"]!["ownerReferences"]![0]!["kind"]!.GetValue<string>());

        Assert.Equal(201, (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/pods", PodObject("web-1", "web", "10.10.0.1", ready: true))).Code);
        Assert.Equal(201, (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/pods", PodObject("web-2", "web", "10.10.0.2", ready: false))).Code);
        Assert.Equal(201, (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/pods", PodObject("db-1", "db", "10.10.0.3", ready: true))).Code);
        await WaitForEndpointsAsync(ns, "web", ("10.10.0.1", true), ("10.10.0.2", false));
        var slice = Assert.Single(await SlicesAsync(ns, "web"));
        Assert.Equal(8080, slice["ports"]![0]!["port"]!.GetValue<int>());
        Assert.Equal("web-1", slice["endpoints"]![0]!["targetRef"]!["name"]!.GetValue<string>());

        // Readiness flips through the status subresource, as a kubelet would report it.
        var readyPatch = new JsonObject { ["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True" }) } };
        Assert.Equal(200, (await Http.PatchJsonAsync($"api/v1/namespaces/{ns}/pods/web-2/status", readyPatch, "application/merge-patch+json")).Code);
        await WaitForEndpointsAsync(ns, "web", ("10.10.0.1", true), ("10.10.0.2", true));

        // A relabelled pod leaves the service.
        var relabel = new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["app"] = "other" } } };
        Assert.Equal(200, (await Http.PatchJsonAsync($"api/v1/namespaces/{ns}/pods/web-1", relabel, "application/merge-patch+json")).Code);
        await WaitForEndpointsAsync(ns, "web", ("10.10.0.2", true));

        Assert.Equal(200, (await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}/pods/web-2")).Code);
        await WaitForEndpointsAsync(ns, "web");
    }

    [Fact]
    public async Task Named_target_ports_are_resolved_per_pod()
    {
        var ns = await lab.NewNamespaceAsync("eps");
        Assert.Equal(201, (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", HeadlessService("api", "web"))).Code);
        Assert.Equal(201, (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/pods", PodObject("api-v1", "api", "10.10.1.1", ready: true, containerPort: 8080))).Code);
        Assert.Equal(201, (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/pods", PodObject("api-v2", "api", "10.10.1.2", ready: true, containerPort: 9090))).Code);

        await WaitForEndpointsAsync(ns, "api", ("10.10.1.1", true), ("10.10.1.2", true));
        var portsByIp = (await SlicesAsync(ns, "api"))
            .SelectMany(s => s["endpoints"]!.AsArray().Select(e => (Ip: e!["addresses"]![0]!.GetValue<string>(), Port: s["ports"]![0]!["port"]!.GetValue<int>())))
            .ToDictionary(x => x.Ip, x => x.Port);
        Assert.Equal(8080, portsByIp["10.10.1.1"]);
        Assert.Equal(9090, portsByIp["10.10.1.2"]);
    }

    [Fact]
    public async Task Deleting_the_service_deletes_its_slices()
    {
        var ns = await lab.NewNamespaceAsync("eps");
        Assert.Equal(201, (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/services", HeadlessService("gone", "8080"))).Code);
        Assert.Equal(201, (await Http.PostJsonAsync($"api/v1/namespaces/{ns}/pods", PodObject("gone-1", "gone", "10.10.2.1", ready: true))).Code);
        await WaitForEndpointsAsync(ns, "gone", ("10.10.2.1", true));

        Assert.Equal(200, (await Http.DeleteJsonAsync($"api/v1/namespaces/{ns}/services/gone")).Code);

        await Eventually.TrueAsync(async () => (await SlicesAsync(ns, "gone")).Count == 0, Timeout, "the slices to be deleted");
    }
}
