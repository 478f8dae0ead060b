using Federation.Kubernetes.Config;
using Federation.Kubernetes.Informers;
using Federation.Kubernetes.Models;
using Federation.Kubernetes.Tests.TestSupport;

namespace Federation.Kubernetes.Tests;

[Trait("Needs", "loopback")]
public sealed class InformerTests
{
    private static readonly KubernetesRetryOptions NoRetry = new() { MaxRetryAttempts = 0 };

    private static InformerOptions Options(string name) => new()
    {
        Name = name,
        PageSize = 2,
        RetryMinDelay = TimeSpan.FromMilliseconds(10),
        RetryMaxDelay = TimeSpan.FromMilliseconds(100),
    };

    [Fact]
    public async Task Lists_all_pages_then_watches_from_the_list_resource_version_with_bookmarks()
    {
        await using var server = await ScriptedApiServer.StartAsync((request, context) =>
        {
            if (request.IsWatch)
            {
                return ScriptedApiServer.WriteWatchAsync(context, [Json.Event("ADDED", Json.Service("demo", "d", "11"))], keepOpen: true);
            }

            return request.QueryValue("continue") is null
                ? ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("10", "more", Json.Service("demo", "a", "1"), Json.Service("demo", "b", "2")))
                : ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("10", null, Json.Service("other", "c", "3")));
        });
        using var client = server.CreateClient();
        var observer = new RecordingObserver<Service>();
        var informer = new Informer<Service>(client, Options("services"), observer);
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);

        await informer.Synced.WaitAsync(TimeSpan.FromSeconds(10));
        var atSync = observer.Events;
        await Eventually.TrueAsync(() => informer.TryGet("demo", "d", out _), "the watched object in the cache");
        await stop.CancelAsync();
        await run;

        // Synced completes only after the whole list (both pages) was reported; the watch may already have added more.
        Assert.Equal(["add demo/a@1", "add demo/b@2", "add other/c@3"], atSync.Take(3));
        Assert.Equal(["add demo/a@1", "add demo/b@2", "add other/c@3", "add demo/d@11"], observer.Events);
        var watch = server.Requests.Single(r => r.IsWatch);
        Assert.Equal("10", watch.QueryValue("resourceVersion"));
        Assert.Equal("true", watch.QueryValue("allowWatchBookmarks"));
        Assert.Equal("/api/v1/services", watch.Path);
        Assert.Equal(4, informer.List().Count);
        Assert.True(informer.TryGet("other", "c", out var c));
        Assert.Equal("3", c.Metadata.ResourceVersion);
        var status = informer.GetStatus();
        Assert.True(status.Synced);
        Assert.Equal(0, status.Relists);
        Assert.Equal("11", status.ResourceVersion);
    }

    [Fact]
    public async Task Gone_relists_and_reports_deletes_and_updates_only_once_the_new_list_is_complete()
    {
        var lists = 0;
        var watches = 0;
        await using var server = await ScriptedApiServer.StartAsync((request, context) =>
        {
            if (request.IsWatch)
            {
                return Interlocked.Increment(ref watches) == 1
                    ? ScriptedApiServer.WriteWatchAsync(context, [Json.Event("ADDED", Json.Service("demo", "d", "11")), Json.Gone()], keepOpen: true)
                    : ScriptedApiServer.WriteWatchAsync(context, [], keepOpen: true);
            }

            var first = request.QueryValue("continue") is null;
            var list = first ? Interlocked.Increment(ref lists) : lists;
            return (list, first) switch
            {
                (1, _) => ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("10", null, Json.Service("demo", "a", "1"), Json.Service("demo", "b", "2"), Json.Service("demo", "c", "3"))),
                // The first re-list breaks after its first page (which lacks c): nothing may be reported from it.
                (2, true) => ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("20", "p2", Json.Service("demo", "a", "1"))),
                (2, false) => ScriptedApiServer.WriteStatusAsync(context, 500, "InternalError", "etcd hiccup"),
                (_, true) => ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("20", "p2", Json.Service("demo", "a", "1"))),
                (_, false) => ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("20", null, Json.Service("demo", "c", "12"), Json.Service("demo", "e", "13"))),
            };
        });
        using var client = server.CreateClient(NoRetry);
        var observer = new RecordingObserver<Service>();
        var informer = new Informer<Service>(client, Options("services"), observer);
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);

        await Eventually.TrueAsync(() => Volatile.Read(ref watches) >= 2, "a watch after the re-list");
        await stop.CancelAsync();
        await run;

        Assert.Equal(
            [
                "add demo/a@1", "add demo/b@2", "add demo/c@3",
                "add demo/d@11",
                "update demo/c@3->12", "add demo/e@13", "delete demo/b@2", "delete demo/d@11",
            ],
            observer.Events);
        Assert.Equal(["demo/a", "demo/c", "demo/e"], informer.List().Select(Informer<Service>.KeyOf).Order(StringComparer.Ordinal));
        Assert.Equal("20", server.Requests.Where(r => r.IsWatch).Last().QueryValue("resourceVersion"));
        var status = informer.GetStatus();
        Assert.Equal(2, status.Relists);
        Assert.Contains("etcd hiccup", status.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dropped_watch_resumes_from_the_last_bookmark_without_listing_again()
    {
        var watches = 0;
        Informer<Service>? informer = null;
        await using var server = await ScriptedApiServer.StartAsync(async (request, context) =>
        {
            if (!request.IsWatch)
            {
                await ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("10", null, Json.Service("demo", "x", "5")));
                return;
            }

            if (Interlocked.Increment(ref watches) == 1)
            {
                await ScriptedApiServer.WriteWatchAsync(context, [Json.Event("MODIFIED", Json.Service("demo", "x", "11")), Json.Bookmark("15")], keepOpen: false);

                // Drop the connection once the client has taken the bookmark (an abort any sooner can discard unread bytes).
                await Eventually.TrueAsync(() => informer!.GetStatus().ResourceVersion == "15", "the bookmark applied");
                context.Abort();
                return;
            }

            await ScriptedApiServer.WriteWatchAsync(context, [Json.Event("MODIFIED", Json.Service("demo", "x", "16", clusterIp: "10.0.0.2"))], keepOpen: true);
        });
        using var client = server.CreateClient(NoRetry);
        var observer = new RecordingObserver<Service>();
        informer = new Informer<Service>(client, Options("services"), observer);
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);

        await Eventually.TrueAsync(() => observer.Events.Count == 3, () => "the event from the resumed watch; saw " + string.Join(" | ", observer.Events));
        await stop.CancelAsync();
        await run;

        Assert.Equal(["add demo/x@5", "update demo/x@5->11", "update demo/x@11->16"], observer.Events);
        var requests = server.Requests;
        Assert.Single(requests, r => !r.IsWatch);
        Assert.Equal(["10", "15"], requests.Where(r => r.IsWatch).Select(r => r.QueryValue("resourceVersion")));
        Assert.True(informer.TryGet("demo", "x", out var x));
        Assert.Equal("10.0.0.2", x.Spec!.ClusterIP);
        Assert.Equal(0, informer.GetStatus().Relists);
    }

    [Fact]
    public async Task Failing_first_lists_are_retried_and_synced_waits_for_a_complete_one()
    {
        var lists = 0;
        await using var server = await ScriptedApiServer.StartAsync((request, context) => request.IsWatch
            ? ScriptedApiServer.WriteWatchAsync(context, [], keepOpen: true)
            : Interlocked.Increment(ref lists) <= 3
                ? ScriptedApiServer.WriteStatusAsync(context, 503, "ServiceUnavailable", "starting")
                : ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("10", null, Json.Service("demo", "a", "1"))));
        using var client = server.CreateClient(NoRetry);
        var informer = new Informer<Service>(client, Options("services"));
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);

        await informer.Synced.WaitAsync(TimeSpan.FromSeconds(10));
        await stop.CancelAsync();
        await run;

        Assert.Equal(4, lists);
        Assert.Single(informer.List());
        Assert.Contains("starting", informer.GetStatus().LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stopping_before_the_first_list_completes_cancels_Synced_and_returns_quietly()
    {
        await using var server = await ScriptedApiServer.StartAsync((_, context) => ScriptedApiServer.WriteStatusAsync(context, 500, "InternalError", "never ready"));
        using var client = server.CreateClient(NoRetry);
        var informer = new Informer<Service>(client, Options("services"));
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);

        await Eventually.TrueAsync(() => server.Requests.Count >= 2, "a retried list");
        await stop.CancelAsync();
        await run;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => informer.Synced);
        Assert.False(informer.GetStatus().Synced);
    }

    [Fact]
    public async Task A_throwing_observer_does_not_stop_the_informer()
    {
        await using var server = await ScriptedApiServer.StartAsync((request, context) => request.IsWatch
            ? ScriptedApiServer.WriteWatchAsync(context, [Json.Event("ADDED", Json.Service("demo", "b", "11"))], keepOpen: true)
            : ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("10", null, Json.Service("demo", "a", "1"))));
        using var client = server.CreateClient(NoRetry);
        var informer = new Informer<Service>(client, Options("services"), new ThrowingObserver());
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);

        await Eventually.TrueAsync(() => informer.TryGet("demo", "b", out _), "the watched object despite the observer");
        await stop.CancelAsync();
        await run;

        Assert.Equal(2, informer.List().Count);
    }

    private sealed class ThrowingObserver : IInformerObserver<Service>
    {
        public void OnAdd(Service item) => throw new InvalidOperationException("observer bug");

        public void OnUpdate(Service oldItem, Service newItem) => throw new InvalidOperationException("observer bug");

        public void OnDelete(Service lastKnown) => throw new InvalidOperationException("observer bug");
    }
}
