using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json.Nodes;
using Federation.Lab.ApiServer.Storage;

namespace Federation.Lab.ApiServer.Tables;

/// <summary>The printer of each kind (the columns <c>kubectl get</c> shows), and NAME, AGE for the rest.</summary>
internal static class TablePrinters
{
    /// <summary>Any kind without a printer of its own.</summary>
    public static readonly TablePrinter Default = new(
        [TableColumn.ObjectName, TableColumn.Age, new("Created At", "date", "", "The time the object was created (its creationTimestamp).", 1)],
        static (value, now) =>
        [
            Name(value),
            Fields.Age(value, now),
            Fields.Time(value["metadata"]?["creationTimestamp"]) is { } created ? ObjectStore.Timestamp(created) : null,
        ]);

    public static readonly TablePrinter Namespaces = new(
        [TableColumn.ObjectName, new("Status", "string", "", "The status of the namespace."), TableColumn.Age],
        static (value, now) => [Name(value), Fields.Text(value["status"]?["phase"]), Fields.Age(value, now)]);

    public static readonly TablePrinter ConfigMaps = new(
        [TableColumn.ObjectName, new("Data", "string", "", "Number of entries in data and binaryData."), TableColumn.Age],
        static (value, now) => [Name(value), Fields.Count(value["data"]) + Fields.Count(value["binaryData"]), Fields.Age(value, now)]);

    public static readonly TablePrinter Secrets = new(
        [TableColumn.ObjectName, new("Type", "string", "", "The type of the secret."), new("Data", "string", "", "Number of entries in data."), TableColumn.Age],
        static (value, now) => [Name(value), Fields.TextOr(value["type"], "Opaque"), Fields.Count(value["data"]), Fields.Age(value, now)]);

    public static readonly TablePrinter Leases = new(
        [TableColumn.ObjectName, new("Holder", "string", "", "The holder of the lease."), TableColumn.Age],
        static (value, now) => [Name(value), Fields.Text(value["spec"]?["holderIdentity"]), Fields.Age(value, now)]);

    private static readonly FrozenDictionary<ResourceType, TablePrinter> ByType = new Dictionary<ResourceType, TablePrinter>
    {
        [LabResources.Pods] = PodPrinter.Printer,
        [LabResources.Services] = NetworkPrinters.Services,
        [LabResources.EndpointSlices] = NetworkPrinters.EndpointSlices,
        [LabResources.Nodes] = NodePrinter.Printer,
        [LabResources.Namespaces] = Namespaces,
        [LabResources.ConfigMaps] = ConfigMaps,
        [LabResources.Secrets] = Secrets,
        [LabResources.Leases] = Leases,
    }.ToFrozenDictionary();

    public static TablePrinter For(ResourceType type) => ByType.GetValueOrDefault(type, Default);

    internal static string Name(JsonObject value) => Fields.Text(value["metadata"]?["name"]);

    /// <summary>Up to three values, then "+ N more..." (Kubernetes' listWithMoreString), <c>&lt;unset&gt;</c> when none.</summary>
    internal static string FirstThree(IReadOnlyList<string> values)
    {
        const int Max = 3;
        if (values.Count == 0)
        {
            return "<unset>";
        }

        var shown = string.Join(',', values.Take(Max));
        return values.Count > Max ? string.Create(CultureInfo.InvariantCulture, $"{shown} + {values.Count - Max} more...") : shown;
    }
}
