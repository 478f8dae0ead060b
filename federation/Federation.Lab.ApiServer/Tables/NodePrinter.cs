using System.Text.Json.Nodes;

namespace Federation.Lab.ApiServer.Tables;

/// <summary>
/// Node rows as kube-apiserver prints them. Lab nodes have no kubelet: STATUS comes from a Ready condition when
/// something wrote one (else Unknown), and VERSION and the node-info columns are empty or unknown.
/// </summary>
internal static class NodePrinter
{
    private const string RolePrefix = "node-role.kubernetes.io/";

    public static readonly TablePrinter Printer = new(
        [
            TableColumn.ObjectName,
            new("Status", "string", "", "The status of the node (its Ready condition)."),
            new("Roles", "string", "", "The roles of the node, from its node-role.kubernetes.io/ labels."),
            TableColumn.Age,
            new("Version", "string", "", "Kubelet version reported by the node."),
            new("Internal-IP", "string", "", "The node's first internal address.", 1),
            new("External-IP", "string", "", "The node's first external address.", 1),
            new("OS-Image", "string", "", "OS image reported by the node.", 1),
            new("Kernel-Version", "string", "", "Kernel version reported by the node.", 1),
            new("Container-Runtime", "string", "", "Container runtime reported by the node.", 1),
        ],
        Cells);

    private static JsonNode?[] Cells(JsonObject node, DateTimeOffset now)
    {
        var status = node["status"];
        var ready = Fields.Condition(status?["conditions"], "Ready");
        var states = new List<string> { ready switch { null => "Unknown", "True" => "Ready", _ => "NotReady" } };
        if (Fields.IsTrue(node["spec"]?["unschedulable"]))
        {
            states.Add("SchedulingDisabled");
        }

        var info = status?["nodeInfo"];
        return
        [
            TablePrinters.Name(node),
            string.Join(',', states),
            Roles(node["metadata"]?["labels"]),
            Fields.Age(node, now),
            Fields.Text(info?["kubeletVersion"]),
            Address(status, "InternalIP"),
            Address(status, "ExternalIP"),
            Fields.TextOr(info?["osImage"], "<unknown>"),
            Fields.TextOr(info?["kernelVersion"], "<unknown>"),
            Fields.TextOr(info?["containerRuntimeVersion"], "<unknown>"),
        ];
    }

    private static string Roles(JsonNode? labels)
    {
        if (labels is not JsonObject map)
        {
            return Fields.None;
        }

        var roles = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in map)
        {
            if (key.StartsWith(RolePrefix, StringComparison.Ordinal) && key.Length > RolePrefix.Length)
            {
                roles.Add(key[RolePrefix.Length..]);
            }
            else if (key == "kubernetes.io/role" && Fields.Text(value) is { Length: > 0 } role)
            {
                roles.Add(role);
            }
        }

        return roles.Count > 0 ? string.Join(',', roles) : Fields.None;
    }

    private static string Address(JsonNode? status, string type)
        => Fields.Objects(status?["addresses"]).FirstOrDefault(a => Fields.Text(a["type"]) == type) is { } address
            ? Fields.Text(address["address"])
            : Fields.None;
}
