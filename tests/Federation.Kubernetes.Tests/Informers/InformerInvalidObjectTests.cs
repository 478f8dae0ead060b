using Federation.Kubernetes.Config;
using Federation.Kubernetes.Informers;
using Federation.Kubernetes.Models;
using Federation.Kubernetes.Tests.TestSupport;

namespace Federation.Kubernetes.Tests;

/// <summary>Objects that do not decode are skipped, logged and counted; the rest of the list or watch is applied.</summary>
[Trait("Needs", "loopback")]
public sealed class InformerInvalidObjectTests
{
    private static readonly KubernetesRetryOptions NoRetry = new() { MaxRetryAttempts = 0 };

    // Valid JSON, but "ports" must be a list: the Service model cannot take it.
    private static string BadService(string ns, string name, string resourceVersion, string uid = "uid-bad")
        => $$$"""{"apiVersion":"v1","kind":"Service","metadata":{"name":"{{{name}}}","namespace":"{{{ns}}}","uid":"{{{uid}}}","resourceVersion":"{{{resourceVersion}}}"},"spec":{"ports":"eighty"}}""";

    private static InformerOptions Options(string name) => new()
    {
        Name = name,
        PageSize = 2,
        RetryMinDelay = TimeSpan.FromMilliseconds(10),
        RetryMaxDelay = TimeSpan.FromMilliseconds(100),
    };

    [Fact]
    public async Task A_list_with_one_malformed_item_syncs_with_the_good_ones_and_counts_it_logging_it_once_across_relists()
    {
        using var invalid = new InvalidObjectsRecorder();
        var watches = 0;
        await using var server = await ScriptedApiServer.StartAsync((request, context) =>
        {
            if (request.IsWatch)
            {
                // The first watch is answered with 410 Gone, so the same list is read a second time.
                return Interlocked.Increment(ref watches) == 1
                    ? ScriptedApiServer.WriteWatchAsync(context, [Json.Gone()], keepOpen: true)
                    : ScriptedApiServer.WriteWatchAsync(context, [], keepOpen: true);
            }

            return request.QueryValue("continue") is null
                ? ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("10", "more", Json.Service("demo", "a", "1"), BadService("demo", "bad", "2")))
                : ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("10", null, Json.Service("demo", "c", "3"), "null"));
        });
        using var client = server.CreateClient(NoRetry);
        var observer = new RecordingObserver<Service>();
        var logger = new ListLogger();
        var informer = new Informer<Service>(client, Options("services"), observer, logger);
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);

        await informer.Synced.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(() => informer.GetStatus().Relists == 1 && watches >= 2, "the relist after 410 Gone and the next watch");
        await stop.CancelAsync();
        await run;

        Assert.Equal(["demo/a", "demo/c"], informer.List().Select(Informer<Service>.KeyOf).Order(StringComparer.Ordinal));
        Assert.Equal(["add demo/a@1", "add demo/c@3"], observer.Events);
        var status = informer.GetStatus();
        Assert.True(status.Synced);
        Assert.Equal(2, status.Items);
        Assert.Null(status.LastError);
        // Two lists, each with the malformed service and the null item.
        Assert.Equal(2, invalid.Total("services", "malformed"));
        Assert.Equal(2, invalid.Total("services", "not_an_object"));
        var warning = Assert.Single(logger.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("demo/bad", StringComparison.Ordinal));
        Assert.Contains("uid-bad", warning, StringComparison.Ordinal);
        Assert.Contains("malformed", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_watch_event_with_a_malformed_object_is_skipped_and_counted_and_later_events_still_apply()
    {
        using var invalid = new InvalidObjectsRecorder();
        await using var server = await ScriptedApiServer.StartAsync((request, context) => request.IsWatch
            ? ScriptedApiServer.WriteWatchAsync(
                context,
                [
                    Json.Event("ADDED", Json.Service("demo", "b", "11")),
                    Json.Event("ADDED", BadService("demo", "bad", "12")),
                    Json.Event("MODIFIED", Json.Service("demo", "a", "13", clusterIp: "10.0.0.2")),
                ],
                keepOpen: true)
            : ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("10", null, Json.Service("demo", "a", "1"))));
        using var client = server.CreateClient(NoRetry);
        var observer = new RecordingObserver<Service>();
        var informer = new Informer<Service>(client, Options("services"), observer);
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);

        await Eventually.TrueAsync(() => informer.GetStatus().ResourceVersion == "13", () => "the event after the malformed one; saw " + string.Join(" | ", observer.Events));
        await stop.CancelAsync();
        await run;

        Assert.Equal(["add demo/a@1", "add demo/b@11", "update demo/a@1->13"], observer.Events);
        Assert.False(informer.TryGet("demo", "bad", out _));
        Assert.True(informer.TryGet("demo", "a", out var a));
        Assert.Equal("10.0.0.2", a.Spec!.ClusterIP);
        Assert.Equal(1, invalid.Total("services", "malformed"));
        // The watch never failed: one list, one watch, no error.
        Assert.Single(server.Requests, r => r.IsWatch);
        Assert.Single(server.Requests, r => !r.IsWatch);
        Assert.Null(informer.GetStatus().LastError);
    }

    [Fact]
    public async Task A_cached_object_that_turns_malformed_keeps_its_last_good_version_until_it_is_deleted()
    {
        using var invalid = new InvalidObjectsRecorder();
        await using var server = await ScriptedApiServer.StartAsync((request, context) => request.IsWatch
            ? ScriptedApiServer.WriteWatchAsync(
                context,
                [
                    Json.Event("MODIFIED", BadService("demo", "a", "11")),
                    Json.Event("DELETED", BadService("demo", "a", "12")),
                    Json.Event("ADDED", Json.Service("demo", "z", "13")),
                ],
                keepOpen: true)
            : ScriptedApiServer.WriteJsonAsync(context, 200, Json.ServiceList("10", null, Json.Service("demo", "a", "1"), Json.Service("demo", "b", "2"))));
        using var client = server.CreateClient(NoRetry);
        var observer = new RecordingObserver<Service>();
        var informer = new Informer<Service>(client, Options("services"), observer);
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);

        await Eventually.TrueAsync(() => informer.TryGet("demo", "z", out _), () => "the last event; saw " + string.Join(" | ", observer.Events));
        await stop.CancelAsync();
        await run;

        // The malformed MODIFIED left version 1 in place; the malformed DELETED still removed it.
        Assert.Equal(["add demo/a@1", "add demo/b@2", "delete demo/a@1", "add demo/z@13"], observer.Events);
        Assert.Equal(["demo/b", "demo/z"], informer.List().Select(Informer<Service>.KeyOf).Order(StringComparer.Ordinal));
        Assert.Equal(2, invalid.Total("services", "malformed"));
        Assert.Single(server.Requests, r => r.IsWatch);
    }
}
