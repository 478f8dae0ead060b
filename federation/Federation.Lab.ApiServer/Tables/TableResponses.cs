using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.Lab.ApiServer.Storage;

namespace Federation.Lab.ApiServer.Tables;

/// <summary>
/// <c>meta.k8s.io</c> Tables: <c>{kind: Table, metadata: {resourceVersion}, columnDefinitions, rows: [{cells, object}]}</c>,
/// where a row's object is the whole object, its metadata as a PartialObjectMetadata, or absent (<see cref="IncludeObject"/>).
/// </summary>
internal static class TableResponses
{
    /// <summary>A Table of the given objects; <paramref name="withColumns"/> false for watch events after the first.</summary>
    public static JsonObject Table(TableRequest request, TablePrinter printer, string resourceVersion, IEnumerable<JsonObject> values, DateTimeOffset now, bool withColumns = true)
    {
        var table = Header(request, resourceVersion, null);
        if (withColumns)
        {
            table["columnDefinitions"] = Columns(printer);
        }

        table["rows"] = new JsonArray([.. values.Select(v => (JsonNode)Row(request, printer, v, now))]);
        return table;
    }

    /// <summary>Writes a list as a Table, row by row (the objects are decoded already; the rows need not be held at once).</summary>
    public static async Task WriteListAsync(HttpContext context, TableRequest request, TablePrinter printer, ListResult list, DateTimeOffset now)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        foreach (var (name, value) in Header(request, list.Revision.ToString(CultureInfo.InvariantCulture), list.Continue))
        {
            writer.WritePropertyName(name);
            value!.WriteTo(writer);
        }

        writer.WritePropertyName("columnDefinitions");
        Columns(printer).WriteTo(writer);
        writer.WriteStartArray("rows");
        foreach (var item in list.Items)
        {
            Row(request, printer, item, now).WriteTo(writer);
            if (writer.BytesPending > 64 * 1024)
            {
                await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            }
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static JsonObject Header(TableRequest request, string resourceVersion, string? @continue)
    {
        var metadata = new JsonObject { ["resourceVersion"] = resourceVersion };
        if (@continue is not null)
        {
            metadata["continue"] = @continue;
        }

        return new JsonObject { ["kind"] = "Table", ["apiVersion"] = request.ApiVersion, ["metadata"] = metadata };
    }

    private static JsonArray Columns(TablePrinter printer) => new([.. printer.Columns.Select(c => (JsonNode)new JsonObject
    {
        ["name"] = c.Name,
        ["type"] = c.Type,
        ["format"] = c.Format,
        ["description"] = c.Description,
        ["priority"] = c.Priority,
    })]);

    private static JsonObject Row(TableRequest request, TablePrinter printer, JsonObject value, DateTimeOffset now)
    {
        var row = new JsonObject { ["cells"] = new JsonArray(printer.Cells(value, now)) };
        if (printer.Conditions(value) is { } conditions)
        {
            row["conditions"] = conditions;
        }

        switch (request.Include)
        {
            case IncludeObject.Object:
                row["object"] = value.DeepClone();
                break;
            case IncludeObject.Metadata:
                row["object"] = new JsonObject
                {
                    ["kind"] = "PartialObjectMetadata",
                    ["apiVersion"] = request.ApiVersion,
                    ["metadata"] = ObjectJson.Metadata(value).DeepClone(),
                };
                break;
        }

        return row;
    }
}
