using System.Diagnostics;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Models;
using Federation.Kubernetes.Tests.TestSupport;
using Microsoft.AspNetCore.Http;

namespace Federation.Kubernetes.Tests;

[Trait("Needs", "loopback")]
public sealed class KubernetesClientHttpTests
{
    private static readonly KubernetesRetryOptions NoRetry = new() { MaxRetryAttempts = 0 };

    [Fact]
    public async Task Throttled_request_is_retried_after_the_Retry_After_the_server_gave()
    {
        await using var server = await ScriptedApiServer.StartAsync(async (request, context) =>
        {
            if (request.Index == 0)
            {
                context.Response.Headers.RetryAfter = "1";
                await ScriptedApiServer.WriteStatusAsync(context, 429, "TooManyRequests", "slow down");
                return;
            }

            await ScriptedApiServer.WriteJsonAsync(context, 200, Json.Service("demo", "web", "7"));
        });
        var time = new RecordingTimeProvider();
        using var client = server.CreateClient(new KubernetesRetryOptions { MaxRetryAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromSeconds(5) }, time);
        var watch = Stopwatch.StartNew();

        var service = await client.GetAsync<Service>("demo", "web");

        Assert.Equal("7", service.Metadata.ResourceVersion);
        Assert.Equal(2, server.Requests.Count);
        Assert.Contains(TimeSpan.FromSeconds(1), time.DueTimes);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"retried after {watch.Elapsed}");
    }

    [Fact]
    public async Task Retry_After_beyond_the_bound_is_capped_at_the_max_delay()
    {
        await using var server = await ScriptedApiServer.StartAsync(async (request, context) =>
        {
            if (request.Index == 0)
            {
                context.Response.Headers.RetryAfter = "3600";
                await ScriptedApiServer.WriteStatusAsync(context, 503, "ServiceUnavailable", "later");
                return;
            }

            await ScriptedApiServer.WriteJsonAsync(context, 200, Json.Service("demo", "web", "7"));
        });
        var time = new RecordingTimeProvider();
        using var client = server.CreateClient(new KubernetesRetryOptions { MaxRetryAttempts = 2, MaxDelay = TimeSpan.FromMilliseconds(50) }, time);

        await client.GetAsync<Service>("demo", "web");

        Assert.Contains(TimeSpan.FromMilliseconds(50), time.DueTimes);
        Assert.DoesNotContain(TimeSpan.FromHours(1), time.DueTimes);
    }

    [Fact]
    public async Task Persistent_server_errors_are_retried_up_to_the_bound_then_surface_with_the_status()
    {
        await using var server = await ScriptedApiServer.StartAsync((_, context) => ScriptedApiServer.WriteStatusAsync(context, 500, "InternalError", "etcd is down"));
        using var client = server.CreateClient();

        var error = await Assert.ThrowsAsync<KubernetesApiException>(() => client.GetAsync<Service>("demo", "web"));

        Assert.Equal(4, server.Requests.Count);
        Assert.Equal(500, error.Status.Code);
        Assert.Equal("etcd is down", error.Status.Message);
    }

    [Fact]
    public async Task Create_is_not_repeated_after_an_ambiguous_500_but_is_after_429()
    {
        await using var server = await ScriptedApiServer.StartAsync((request, context) => request.Path.EndsWith("/services", StringComparison.Ordinal) && request.Body.Contains("\"first\"", StringComparison.Ordinal)
            ? ScriptedApiServer.WriteStatusAsync(context, 500, "InternalError", "maybe written")
            : request.Index == 1
                ? ScriptedApiServer.WriteStatusAsync(context, 429, "TooManyRequests", "throttled")
                : ScriptedApiServer.WriteJsonAsync(context, 201, Json.Service("demo", "second", "3")));
        using var client = server.CreateClient();

        await Assert.ThrowsAsync<KubernetesApiException>(() => client.CreateAsync(new Service { Metadata = new ObjectMeta { Name = "first", Namespace = "demo" } }));
        var created = await client.CreateAsync(new Service { Metadata = new ObjectMeta { Name = "second", Namespace = "demo" } });

        Assert.Equal("second", created.Metadata.Name);
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task A_dropped_connection_is_retried_for_a_get_but_not_for_a_create()
    {
        await using var server = await ScriptedApiServer.StartAsync((request, context) =>
        {
            if (request.Index is 0 or 2)
            {
                context.Abort();
                return Task.CompletedTask;
            }

            return ScriptedApiServer.WriteJsonAsync(context, 200, Json.Service("demo", "web", "1"));
        });
        using var client = server.CreateClient();

        var got = await client.GetAsync<Service>("demo", "web");
        await Assert.ThrowsAsync<HttpRequestException>(() => client.CreateAsync(new Service { Metadata = new ObjectMeta { Name = "web", Namespace = "demo" } }));

        Assert.Equal("web", got.Metadata.Name);
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task Error_statuses_map_to_specific_exceptions_carrying_the_decoded_status()
    {
        await using var server = await ScriptedApiServer.StartAsync((request, context) => request.Path switch
        {
            "/api/v1/namespaces/demo/services/missing" => ScriptedApiServer.WriteStatusAsync(context, 404, "NotFound", "services \\\"missing\\\" not found"),
            "/api/v1/namespaces/demo/services" => ScriptedApiServer.WriteStatusAsync(context, 409, "AlreadyExists", "services \\\"web\\\" already exists"),
            "/api/v1/namespaces/demo/services/web" when request.Method == "PUT" => ScriptedApiServer.WriteStatusAsync(context, 409, "Conflict", "the object has been modified"),
            "/api/v1/namespaces/demo/services/web" when request.Method == "PATCH" => ScriptedApiServer.WriteJsonAsync(context, 422, """
                {"kind":"Status","apiVersion":"v1","status":"Failure","message":"Service \"web\" is invalid","reason":"Invalid","code":422,
                 "details":{"name":"web","kind":"Service","causes":[{"reason":"FieldValueInvalid","message":"bad port","field":"spec.ports[0].port"}]}}
                """),
            "/api/v1/namespaces/demo/services/old" => ScriptedApiServer.WriteStatusAsync(context, 410, "Expired", "too old"),
            _ => WritePlainAsync(context, 403, "forbidden: user cannot get services"),
        });
        using var client = server.CreateClient(NoRetry);
        var web = new Service { Metadata = new ObjectMeta { Name = "web", Namespace = "demo", ResourceVersion = "1" } };

        var notFound = await Assert.ThrowsAsync<KubernetesNotFoundException>(() => client.GetAsync<Service>("demo", "missing"));
        var exists = await Assert.ThrowsAsync<KubernetesAlreadyExistsException>(() => client.CreateAsync(web));
        var conflict = await Assert.ThrowsAsync<KubernetesConflictException>(() => client.UpdateAsync(web));
        var invalid = await Assert.ThrowsAsync<KubernetesInvalidException>(() => client.PatchAsync<Service>("demo", "web", PatchType.Merge, """{"spec":{"ports":[{"port":0}]}}"""));
        var gone = await Assert.ThrowsAsync<KubernetesGoneException>(() => client.GetAsync<Service>("demo", "old"));
        var forbidden = await Assert.ThrowsAsync<KubernetesApiException>(() => client.GetAsync<Service>("demo", "secret"));

        Assert.Equal("NotFound", notFound.Reason);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, notFound.StatusCode);
        Assert.True(exists.IsAlreadyExists);
        Assert.False(conflict.IsAlreadyExists);
        Assert.Equal("the object has been modified", conflict.Status.Message);
        Assert.Equal("spec.ports[0].port", invalid.Status.Details!.Causes![0].Field);
        Assert.Equal(410, gone.Status.Code);
        Assert.Equal(403, forbidden.Status.Code);
        Assert.Equal("Forbidden", forbidden.Reason);
        Assert.Contains("user cannot get services", forbidden.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listing_all_pages_follows_continue_tokens_without_a_resource_version()
    {
        await using var server = await ScriptedApiServer.StartAsync((request, context) => request.QueryValue("continue") switch
        {
            null => ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("100", "page2", Json.Service("a", "s1", "90"), Json.Service("a", "s2", "91"))),
            "page2" => ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("100", "page3", Json.Service("b", "s3", "92"))),
            _ => ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("100", null, Json.Service("c", "s4", "93"))),
        });
        using var client = server.CreateClient();

        var all = await client.ListAllAsync<Service>(null, new ListOptions { Limit = 2, LabelSelector = "app=web", ResourceVersion = "0" });

        Assert.Equal(["s1", "s2", "s3", "s4"], all.Items.Select(s => s.Metadata.Name));
        Assert.Equal("100", all.Metadata.ResourceVersion);
        Assert.Null(all.Metadata.Continue);
        var requests = server.Requests;
        Assert.Equal(3, requests.Count);
        Assert.All(requests, r => Assert.Equal("/api/v1/services", r.Path));
        Assert.All(requests, r => Assert.Equal("2", r.QueryValue("limit")));
        Assert.All(requests, r => Assert.Equal("app=web", r.QueryValue("labelSelector")));
        Assert.Equal("0", requests[0].QueryValue("resourceVersion"));
        Assert.Null(requests[1].QueryValue("resourceVersion"));
        Assert.Equal("page3", requests[2].QueryValue("continue"));
    }

    [Fact]
    public async Task Watch_yields_events_and_turns_an_ERROR_410_event_into_Gone()
    {
        await using var server = await ScriptedApiServer.StartAsync((request, context) => ScriptedApiServer.WriteWatchAsync(context,
            [Json.Event("ADDED", Json.Service("demo", "a", "11")), Json.Bookmark("12"), Json.Gone()], keepOpen: true));
        using var client = server.CreateClient();
        var seen = new List<WatchEvent<Service>>();

        var gone = await Assert.ThrowsAsync<KubernetesGoneException>(async () =>
        {
            await foreach (var ev in client.WatchAsync<Service>("demo", new WatchOptions { ResourceVersion = "10", AllowBookmarks = true, TimeoutSeconds = 60 }))
            {
                seen.Add(ev);
            }
        });

        Assert.Equal([WatchEventType.Added, WatchEventType.Bookmark], seen.Select(e => e.Type));
        Assert.Equal("Expired", gone.Reason);
        var request = Assert.Single(server.Requests);
        Assert.Equal("/api/v1/namespaces/demo/services", request.Path);
        Assert.Equal("10", request.QueryValue("resourceVersion"));
        Assert.Equal("true", request.QueryValue("allowWatchBookmarks"));
        Assert.Equal("60", request.QueryValue("timeoutSeconds"));
    }

    [Fact]
    public async Task Watch_refused_with_HTTP_410_is_Gone_too()
    {
        await using var server = await ScriptedApiServer.StartAsync((_, context) => ScriptedApiServer.WriteStatusAsync(context, 410, "Expired", "too old resource version"));
        using var client = server.CreateClient();

        await Assert.ThrowsAsync<KubernetesGoneException>(async () =>
        {
            await foreach (var _ in client.WatchAsync<Service>(null, new WatchOptions { ResourceVersion = "1" }))
            {
            }
        });
    }

    [Fact]
    public async Task Writes_send_type_meta_content_types_and_the_bearer_token_from_its_file()
    {
        using var dir = new TempDirectory();
        var tokenFile = dir.Write("token", "file-token\n");
        await using var server = await ScriptedApiServer.StartAsync((request, context) => request.Method == "DELETE"
            ? ScriptedApiServer.WriteJsonAsync(context, 200, """{"kind":"Status","apiVersion":"v1","status":"Success","code":200}""")
            : ScriptedApiServer.WriteJsonAsync(context, 200, """{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l","namespace":"n","resourceVersion":"5"}}"""));
        using var client = KubernetesClient.Create(new KubernetesClientConfiguration { Server = server.BaseAddress, TokenFile = tokenFile });

        await client.CreateAsync(new Lease { Metadata = new ObjectMeta { Name = "l", Namespace = "n" }, Spec = new LeaseSpec { HolderIdentity = "me" } });
        await client.PatchAsync<Lease>("n", "l", PatchType.StrategicMerge, """{"metadata":{"labels":{"a":"b"}}}""");
        await client.PatchAsync<Lease>("n", "l", PatchType.Json, """[{"op":"remove","path":"/spec/holderIdentity"}]""");
        await client.DeleteAsync<Lease>("n", "l");

        var requests = server.Requests;
        Assert.Equal(["POST", "PATCH", "PATCH", "DELETE"], requests.Select(r => r.Method));
        Assert.Equal("/apis/coordination.k8s.io/v1/namespaces/n/leases", requests[0].Path);
        Assert.Contains("\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\"", requests[0].Body, StringComparison.Ordinal);
        Assert.StartsWith("application/json", requests[0].ContentType, StringComparison.Ordinal);
        Assert.Equal("application/strategic-merge-patch+json", requests[1].ContentType);
        Assert.Equal("application/json-patch+json", requests[2].ContentType);
        Assert.Equal("/apis/coordination.k8s.io/v1/namespaces/n/leases/l", requests[3].Path);
        Assert.All(requests, r => Assert.Equal("Bearer file-token", r.Authorization));
    }

    [Fact]
    public async Task A_server_url_with_a_path_keeps_its_prefix()
    {
        await using var server = await ScriptedApiServer.StartAsync((_, context) => ScriptedApiServer.WriteJsonAsync(context, 200, Json.Service("demo", "web", "1")));
        using var client = KubernetesClient.Create(new KubernetesClientConfiguration { Server = new Uri(server.BaseAddress, "/k8s/clusters/c1/") });

        await client.GetAsync<Service>("demo", "web");

        Assert.Equal("/k8s/clusters/c1/api/v1/namespaces/demo/services/web", Assert.Single(server.Requests).Path);
    }

    private static async Task WritePlainAsync(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync(text);
    }
}
