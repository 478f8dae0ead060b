using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.Lab.ApiServer.Storage;

namespace Federation.Lab.ApiServer.Api;

/// <summary>JSON responses and Kubernetes <c>Status</c> objects.</summary>
internal static class ApiResponses
{
    public static async Task WriteJsonAsync(HttpContext context, int statusCode, JsonNode body)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        body.WriteTo(writer);
        await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>A failure Status: <c>{"kind":"Status","status":"Failure","reason":..,"code":..}</c>.</summary>
    public static JsonObject Status(int code, string reason, string message, ResourceType? type = null, string? name = null, IReadOnlyList<FieldCause>? causes = null)
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = message,
            ["reason"] = reason,
            ["code"] = code,
        };
        if (type is not null || name is not null || causes is { Count: > 0 })
        {
            var details = new JsonObject();
            if (name is not null)
            {
                details["name"] = name;
            }

            if (type is not null)
            {
                details["group"] = type.Group.Length > 0 ? type.Group : null;
                details["kind"] = causes is { Count: > 0 } ? type.Kind : type.Resource;
                if (type.Group.Length == 0)
                {
                    details.Remove("group");
                }
            }

            if (causes is { Count: > 0 })
            {
                details["causes"] = new JsonArray([.. causes.Select(c => (JsonNode)new JsonObject { ["reason"] = c.Reason, ["message"] = c.Message, ["field"] = c.Field })]);
            }

            status["details"] = details;
        }

        return status;
    }

    public static Task WriteStatusAsync(HttpContext context, int code, string reason, string message, ResourceType? type = null, string? name = null)
        => WriteJsonAsync(context, code, Status(code, reason, message, type, name));

    /// <summary>The HTTP code and Status reason of a failed store request.</summary>
    public static (int Code, string Reason) Map(StoreOutcome outcome) => outcome switch
    {
        StoreOutcome.NotFound => (404, "NotFound"),
        StoreOutcome.AlreadyExists => (409, "AlreadyExists"),
        StoreOutcome.Conflict => (409, "Conflict"),
        StoreOutcome.Invalid => (422, "Invalid"),
        StoreOutcome.BadRequest => (400, "BadRequest"),
        StoreOutcome.Expired => (410, "Expired"),
        _ => (500, "InternalError"),
    };

    public static Task WriteResultAsync(HttpContext context, ResourceType type, string? name, StoreResult result)
    {
        if (result.Succeeded)
        {
            return WriteJsonAsync(context, result.Outcome == StoreOutcome.Created ? 201 : 200, result.Object!);
        }

        var (code, reason) = Map(result.Outcome);
        return WriteJsonAsync(context, code, Status(code, reason, result.Message, type, name, result.Causes));
    }
}
