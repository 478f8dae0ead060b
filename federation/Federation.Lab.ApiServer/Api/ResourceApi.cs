using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Federation.Etcd;
using Federation.Lab.ApiServer.Hosting;
using Federation.Lab.ApiServer.Storage;
using Federation.Lab.ApiServer.Tables;
using Microsoft.Extensions.Options;

namespace Federation.Lab.ApiServer.Api;

/// <summary>
/// The Kubernetes REST surface: discovery, OpenAPI, and get/list/watch/create/update/patch/delete on the
/// resources of <see cref="LabResources"/> (plus their <c>status</c> subresource), over the <see cref="ObjectStore"/>.
/// </summary>
internal sealed partial class ResourceApi(
    ObjectStore store, IOptions<LabApiServerOptions> options, TimeProvider timeProvider, IHostApplicationLifetime lifetime, ILogger<ResourceApi> logger)
{
    private readonly ObjectStore _store = store;
    private readonly LabApiServerOptions _options = options.Value;
    private readonly TimeProvider _time = timeProvider;
    private readonly IHostApplicationLifetime _lifetime = lifetime;
    private readonly ILogger _logger = logger;

    public async Task HandleAsync(HttpContext context)
    {
        try
        {
            await RouteAsync(context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (EtcdException ex) when (!context.Response.HasStarted)
        {
            LogStorageError(context.Request.Method, context.Request.Path, ex.Message);
            await ApiResponses.WriteStatusAsync(context, 503, "ServiceUnavailable", $"storage unavailable: {ex.Message}").ConfigureAwait(false);
        }
        catch (Exception ex) when (!context.Response.HasStarted && ex is not OperationCanceledException)
        {
            LogInternalError(context.Request.Method, context.Request.Path, ex);
            await ApiResponses.WriteStatusAsync(context, 500, "InternalError", $"Internal error occurred: {ex.Message}").ConfigureAwait(false);
        }
    }

    private async Task RouteAsync(HttpContext context)
    {
        var segments = (context.Request.Path.Value ?? "").Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0)
        {
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }

        switch (segments[0])
        {
            case "version" when segments.Length == 1:
                await ApiResponses.WriteJsonAsync(context, 200, DiscoveryDocuments.Version()).ConfigureAwait(false);
                return;
            case "healthz" or "readyz" or "livez" when segments.Length == 1:
                context.Response.ContentType = "text/plain";
                await context.Response.WriteAsync("ok", context.RequestAborted).ConfigureAwait(false);
                return;
            case "openapi":
                await OpenApiAsync(context, segments).ConfigureAwait(false);
                return;
            case "api" when segments.Length == 1:
                await ApiResponses.WriteJsonAsync(context, 200, DiscoveryDocuments.ApiVersions($"{context.Request.Host}")).ConfigureAwait(false);
                return;
            case "api":
                await GroupVersionAsync(context, "", segments[1], segments[2..]).ConfigureAwait(false);
                return;
            case "apis" when segments.Length == 1:
                await ApiResponses.WriteJsonAsync(context, 200, DiscoveryDocuments.GroupList()).ConfigureAwait(false);
                return;
            case "apis" when segments.Length == 2:
                await WriteOrNotFoundAsync(context, DiscoveryDocuments.Group(segments[1])).ConfigureAwait(false);
                return;
            case "apis":
                await GroupVersionAsync(context, segments[1], segments[2], segments[3..]).ConfigureAwait(false);
                return;
            default:
                await NotFoundAsync(context).ConfigureAwait(false);
                return;
        }
    }

    private static async Task OpenApiAsync(HttpContext context, string[] segments)
    {
        if (segments.Length >= 2 && segments[1] == "v3")
        {
            var document = segments.Length switch
            {
                2 => DiscoveryDocuments.OpenApiIndex(),
                4 when segments[2] == "api" => DiscoveryDocuments.OpenApiGroupVersion("", segments[3]),
                5 when segments[2] == "apis" => DiscoveryDocuments.OpenApiGroupVersion(segments[3], segments[4]),
                _ => null,
            };
            await WriteOrNotFoundAsync(context, document).ConfigureAwait(false);
            return;
        }

        // No OpenAPI v2: clients ask for it in protobuf only; kubectl copes without it (see OpenApiIndex).
        await NotFoundAsync(context).ConfigureAwait(false);
    }

    private async Task GroupVersionAsync(HttpContext context, string group, string version, string[] rest)
    {
        if (rest.Length == 0)
        {
            await WriteOrNotFoundAsync(context, DiscoveryDocuments.ResourceList(group, version)).ConfigureAwait(false);
            return;
        }

        var watchPath = rest[0] == "watch";
        if (watchPath)
        {
            rest = rest[1..];
        }

        string? @namespace = null;
        ResourceType? type;
        if (rest.Length >= 3 && rest[0] == "namespaces" && LabResources.Find(group, version, rest[2]) is { Namespaced: true } namespaced)
        {
            @namespace = rest[1];
            type = namespaced;
            rest = rest[2..];
        }
        else
        {
            type = rest.Length > 0 ? LabResources.Find(group, version, rest[0]) : null;
        }

        var name = rest.Length > 1 ? rest[1] : null;
        var subresource = rest.Length > 2 ? rest[2] : null;
        if (type is null || rest.Length > 3 || (subresource is not null && (subresource != "status" || !type.HasStatus)))
        {
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }

        if (type.Namespaced && @namespace is null && (name is not null || context.Request.Method != HttpMethods.Get))
        {
            // A namespaced object is only addressed inside its namespace; across namespaces there is only list/watch.
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }

        if (context.Request.Query.ContainsKey("dryRun"))
        {
            await ApiResponses.WriteStatusAsync(context, 400, "BadRequest", "dryRun is not supported by the lab API server").ConfigureAwait(false);
            return;
        }

        var method = context.Request.Method;
        var isStatus = subresource is not null;
        TableRequest? table = null;
        if (method == HttpMethods.Get
            && !TableRequest.TryParse(context.Request.Headers.Accept.ToString(), context.Request.Query["includeObject"].ToString(), out table, out var tableError))
        {
            await ApiResponses.WriteStatusAsync(context, 400, "BadRequest", tableError).ConfigureAwait(false);
            return;
        }

        switch (method)
        {
            case "GET" when name is null:
                var watch = watchPath || context.Request.Query["watch"] is var w && (w == "true" || w == "1");
                await (watch ? WatchAsync(context, type, @namespace, table) : ListAsync(context, type, @namespace, table)).ConfigureAwait(false);
                return;
            case "GET" when !watchPath:
                await GetAsync(context, type, @namespace, name!, table).ConfigureAwait(false);
                return;
            case "POST" when name is null && !watchPath:
                await CreateAsync(context, type, @namespace).ConfigureAwait(false);
                return;
            case "PUT" when name is not null && !watchPath:
                await UpdateAsync(context, type, @namespace, name, isStatus).ConfigureAwait(false);
                return;
            case "PATCH" when name is not null && !watchPath:
                await PatchAsync(context, type, @namespace, name, isStatus).ConfigureAwait(false);
                return;
            case "DELETE" when name is not null && !watchPath && !isStatus:
                await DeleteAsync(context, type, @namespace, name).ConfigureAwait(false);
                return;
            default:
                await ApiResponses.WriteStatusAsync(context, 405, "MethodNotAllowed", $"the server does not allow this method on the requested resource ({method} {context.Request.Path})", type, name).ConfigureAwait(false);
                return;
        }
    }

    private async Task GetAsync(HttpContext context, ResourceType type, string? @namespace, string name, TableRequest? table)
    {
        var result = await _store.GetAsync(type, @namespace, name, context.RequestAborted).ConfigureAwait(false);
        if (table is null || !result.Succeeded)
        {
            await ApiResponses.WriteResultAsync(context, type, name, result).ConfigureAwait(false);
            return;
        }

        var value = result.Object!;
        var document = TableResponses.Table(table, TablePrinters.For(type), ObjectJson.ResourceVersion(value) ?? "", [value], _time.GetUtcNow());
        await ApiResponses.WriteJsonAsync(context, 200, document).ConfigureAwait(false);
    }

    private async Task ListAsync(HttpContext context, ResourceType type, string? @namespace, TableRequest? table)
    {
        if (await FilterAsync(context) is not (true, var filter))
        {
            return;
        }

        var limitText = context.Request.Query["limit"].ToString();
        var limit = 0;
        if (limitText.Length > 0 && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit)))
        {
            await ApiResponses.WriteStatusAsync(context, 400, "BadRequest", $"invalid limit \"{limitText}\"").ConfigureAwait(false);
            return;
        }

        var request = new ListRequest(limit, NullIfEmpty(context.Request.Query["continue"].ToString()), filter);
        if (table is not null)
        {
            // A Table needs every object decoded to fill its cells.
            var list = await _store.ListAsync(type, @namespace, request, context.RequestAborted).ConfigureAwait(false);
            if (list.Succeeded)
            {
                await TableResponses.WriteListAsync(context, table, TablePrinters.For(type), list, _time.GetUtcNow()).ConfigureAwait(false);
            }
            else
            {
                var (failureCode, failureReason) = ApiResponses.Map(list.Outcome);
                await ApiResponses.WriteStatusAsync(context, failureCode, failureReason, list.Message).ConfigureAwait(false);
            }

            return;
        }

        var result = await _store.ListRawAsync(type, @namespace, request, context.RequestAborted).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            var (code, reason) = ApiResponses.Map(result.Outcome);
            await ApiResponses.WriteStatusAsync(context, code, reason, result.Message).ConfigureAwait(false);
            return;
        }

        // Written item by item from the stored bytes: no DOM for lists of thousands of objects.
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("kind", type.ListKind);
        writer.WriteString("apiVersion", type.ApiVersion);
        writer.WriteStartObject("metadata");
        writer.WriteString("resourceVersion", result.Revision.ToString(CultureInfo.InvariantCulture));
        if (result.Continue is not null)
        {
            writer.WriteString("continue", result.Continue);
        }

        writer.WriteEndObject();
        writer.WriteStartArray("items");
        foreach (var item in result.Items)
        {
            StoredJson.Write(writer, type, item);
            if (writer.BytesPending > 64 * 1024)
            {
                await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            }
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private async Task WatchAsync(HttpContext context, ResourceType type, string? @namespace, TableRequest? table)
    {
        if (await FilterAsync(context) is not (true, var filter))
        {
            return;
        }

        var query = context.Request.Query;
        var resourceVersion = query["resourceVersion"].ToString();
        long? after = null;
        if (resourceVersion is not ("" or "0"))
        {
            if (!long.TryParse(resourceVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                await ApiResponses.WriteStatusAsync(context, 400, "BadRequest", $"invalid resourceVersion \"{resourceVersion}\"").ConfigureAwait(false);
                return;
            }

            after = parsed;
        }

        var bookmarks = query["allowWatchBookmarks"] is var b && (b == "true" || b == "1");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _lifetime.ApplicationStopping);
        if (int.TryParse(query["timeoutSeconds"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var timeoutSeconds) && timeoutSeconds > 0)
        {
            stop.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.StartAsync(context.RequestAborted).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        LogWatchStarted(type.Resource, @namespace ?? "", resourceVersion);

        // One consumer writes the response: store events, and bookmark ticks (null) when asked for.
        var queue = Channel.CreateBounded<StoreWatchEvent?>(new BoundedChannelOptions(256) { SingleReader = true });
        var producer = Task.Run(async () =>
        {
            try
            {
                await foreach (var change in _store.WatchAsync(type, @namespace, after, filter, stop.Token).ConfigureAwait(false))
                {
                    await queue.Writer.WriteAsync(change, stop.Token).ConfigureAwait(false);
                }

                queue.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                queue.Writer.TryComplete(ex);
            }
        });
        var ticker = bookmarks ? Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(_options.BookmarkInterval, _time);
            try
            {
                while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
                {
                    await queue.Writer.WriteAsync(null, stop.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // Watch over.
            }
            catch (ChannelClosedException)
            {
                // Watch over.
            }
        }) : Task.CompletedTask;

        var lastRevision = after ?? 0;
        var printer = TablePrinters.For(type);
        var sentColumns = false;
        try
        {
            await foreach (var change in queue.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                JsonObject frame;
                if (change is null)
                {
                    if (lastRevision <= 0)
                    {
                        continue;
                    }

                    var bookmarkVersion = lastRevision.ToString(CultureInfo.InvariantCulture);
                    frame = Frame("BOOKMARK", table is not null
                        ? TableResponses.Table(table, printer, bookmarkVersion, [], _time.GetUtcNow(), withColumns: false)
                        : new JsonObject
                        {
                            ["kind"] = type.Kind,
                            ["apiVersion"] = type.ApiVersion,
                            ["metadata"] = new JsonObject { ["resourceVersion"] = bookmarkVersion },
                        });
                }
                else
                {
                    switch (change.Type)
                    {
                        case StoreWatchEventType.Synced:
                            lastRevision = change.Revision;
                            continue;
                        case StoreWatchEventType.Expired:
                            var message = $"too old resource version: {after} ({change.Revision})";
                            frame = Frame("ERROR", ApiResponses.Status(410, "Expired", message));
                            break;
                        default:
                            lastRevision = Math.Max(lastRevision, change.Revision);
                            var value = change.Object!;
                            if (table is not null)
                            {
                                // Each event is a one-row Table; only the first carries the columns (kubectl prints the header once).
                                value = TableResponses.Table(table, printer, ObjectJson.ResourceVersion(value) ?? "", [value], _time.GetUtcNow(), withColumns: !sentColumns);
                                sentColumns = true;
                            }

                            frame = Frame(change.Type.ToString().ToUpperInvariant(), value);
                            break;
                    }
                }

                await WriteLineAsync(context, frame, stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Timeout or client gone: end the stream.
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            queue.Writer.TryComplete();
            await Task.WhenAll(producer, ticker).ConfigureAwait(false);
        }
    }

    private static JsonObject Frame(string type, JsonObject value) => new() { ["type"] = type, ["object"] = value };

    private static async Task WriteLineAsync(HttpContext context, JsonObject frame, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            frame.WriteTo(writer);
        }

        buffer.Write("\n"u8);
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task CreateAsync(HttpContext context, ResourceType type, string? @namespace)
    {
        if (await ReadObjectAsync(context, type, @namespace) is not { } body)
        {
            return;
        }

        var result = await _store.CreateAsync(type, body, context.RequestAborted).ConfigureAwait(false);
        await ApiResponses.WriteResultAsync(context, type, ObjectJson.Name(body), result).ConfigureAwait(false);
    }

    private async Task UpdateAsync(HttpContext context, ResourceType type, string? @namespace, string name, bool statusOnly)
    {
        if (await ReadObjectAsync(context, type, @namespace) is not { } body)
        {
            return;
        }

        if (ObjectJson.Name(body) != name)
        {
            await ApiResponses.WriteStatusAsync(context, 400, "BadRequest", $"the name of the object ({ObjectJson.Name(body)}) does not match the name on the URL ({name})").ConfigureAwait(false);
            return;
        }

        StoreResult result;
        if (statusOnly)
        {
            // The status subresource changes status only; a resourceVersion in the body is a precondition.
            result = await _store.MutateAsync(type, @namespace, name, current =>
            {
                current["status"] = body["status"]?.DeepClone();
                if (ObjectJson.ResourceVersion(body) is { Length: > 0 } version)
                {
                    ObjectJson.Metadata(current)["resourceVersion"] = version;
                }

                return StoreResult.Ok(current);
            }, context.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            result = await _store.UpdateAsync(type, body, context.RequestAborted).ConfigureAwait(false);
        }

        await ApiResponses.WriteResultAsync(context, type, name, result).ConfigureAwait(false);
    }

    private async Task PatchAsync(HttpContext context, ResourceType type, string? @namespace, string name, bool statusOnly)
    {
        var mediaType = context.Request.ContentType?.Split(';')[0].Trim();
        Func<JsonNode?, JsonNode?, JsonNode?>? apply = mediaType switch
        {
            "application/merge-patch+json" => Patches.Merge,
            "application/strategic-merge-patch+json" => Patches.Strategic,
            "application/json-patch+json" => Patches.Json,
            _ => null,
        };
        if (apply is null)
        {
            await ApiResponses.WriteStatusAsync(
                context, 415, "UnsupportedMediaType",
                $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got \"{mediaType}\"; server-side apply is not supported)").ConfigureAwait(false);
            return;
        }

        JsonNode? patch;
        try
        {
            patch = Patches.Parse(await RequestBodies.ReadAllAsync(context.Request, context.RequestAborted).ConfigureAwait(false));
        }
        catch (PatchException ex)
        {
            await ApiResponses.WriteStatusAsync(context, 400, "BadRequest", ex.Message).ConfigureAwait(false);
            return;
        }

        var result = await _store.MutateAsync(type, @namespace, name, current =>
        {
            JsonNode? patched;
            try
            {
                patched = apply(current.DeepClone(), patch);
            }
            catch (PatchException ex)
            {
                return StoreResult.Fail(StoreOutcome.Invalid, ex.Message);
            }

            if (patched is not JsonObject updated)
            {
                return StoreResult.Fail(StoreOutcome.BadRequest, "the patched object is not a JSON object");
            }

            if (statusOnly)
            {
                current["status"] = updated["status"]?.DeepClone();
                return StoreResult.Ok(current);
            }

            return StoreResult.Ok(updated);
        }, context.RequestAborted).ConfigureAwait(false);
        await ApiResponses.WriteResultAsync(context, type, name, result).ConfigureAwait(false);
    }

    private async Task DeleteAsync(HttpContext context, ResourceType type, string? @namespace, string name)
    {
        string? expectedVersion = null;
        string? expectedUid = null;
        var body = await RequestBodies.ReadAllAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
        if (body.Length > 0)
        {
            try
            {
                var options = JsonNode.Parse(body);
                expectedVersion = ObjectJson.String(options?["preconditions"]?["resourceVersion"]);
                expectedUid = ObjectJson.String(options?["preconditions"]?["uid"]);
            }
            catch (JsonException ex)
            {
                await ApiResponses.WriteStatusAsync(context, 400, "BadRequest", $"the DeleteOptions body is not valid JSON: {ex.Message}").ConfigureAwait(false);
                return;
            }
        }

        var result = await _store.DeleteAsync(type, @namespace, name, expectedVersion, expectedUid, context.RequestAborted).ConfigureAwait(false);
        await ApiResponses.WriteResultAsync(context, type, name, result).ConfigureAwait(false);
    }

    /// <summary>Reads and checks an object body; on failure writes the 400 and returns null.</summary>
    private static async Task<JsonObject?> ReadObjectAsync(HttpContext context, ResourceType type, string? @namespace)
    {
        JsonObject body;
        try
        {
            body = RequestBodies.ParseObject(await RequestBodies.ReadAllAsync(context.Request, context.RequestAborted).ConfigureAwait(false), context.Request.ContentType);
        }
        catch (BadBodyException ex)
        {
            await ApiResponses.WriteStatusAsync(context, 400, "BadRequest", ex.Message).ConfigureAwait(false);
            return null;
        }

        if (body["metadata"] is not null and not JsonObject)
        {
            await ApiResponses.WriteStatusAsync(context, 400, "BadRequest", "metadata must be an object").ConfigureAwait(false);
            return null;
        }

        if (type.Namespaced)
        {
            var given = ObjectJson.Namespace(body);
            if (!string.IsNullOrEmpty(given) && given != @namespace)
            {
                await ApiResponses.WriteStatusAsync(context, 400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request").ConfigureAwait(false);
                return null;
            }

            ObjectJson.Metadata(body)["namespace"] = @namespace;
        }

        return body;
    }

    /// <summary>The label and field selectors of the request as one predicate; on a bad selector writes the 400.</summary>
    private static async Task<(bool Ok, Func<JsonObject, bool>? Filter)> FilterAsync(HttpContext context)
    {
        var labelText = context.Request.Query["labelSelector"].ToString();
        var fieldText = context.Request.Query["fieldSelector"].ToString();
        if (labelText.Length == 0 && fieldText.Length == 0)
        {
            return (true, null);
        }

        if (!Selectors.TryParseLabels(labelText, out var labels, out var error) || !Selectors.TryParseFields(fieldText, out var fields, out error))
        {
            await ApiResponses.WriteStatusAsync(context, 400, "BadRequest", error).ConfigureAwait(false);
            return (false, null);
        }

        return (true, value => labels(value) && fields(value));
    }

    private static Task WriteOrNotFoundAsync(HttpContext context, JsonObject? document)
        => document is null ? NotFoundAsync(context) : ApiResponses.WriteJsonAsync(context, 200, document);

    private static Task NotFoundAsync(HttpContext context)
        => ApiResponses.WriteStatusAsync(context, 404, "NotFound", "the server could not find the requested resource");

    private static string? NullIfEmpty(string text) => text.Length == 0 ? null : text;
}
