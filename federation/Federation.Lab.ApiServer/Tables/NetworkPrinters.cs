using System.Globalization;
using System.Text.Json.Nodes;

namespace Federation.Lab.ApiServer.Tables;

/// <summary>Service and EndpointSlice rows as kube-apiserver prints them.</summary>
internal static class NetworkPrinters
{
    public static readonly TablePrinter Services = new(
        [
            TableColumn.ObjectName,
            new("Type", "string", "", "The type of the service (ClusterIP, NodePort, LoadBalancer, ExternalName)."),
            new("Cluster-IP", "string", "", "The virtual IP of the service inside the cluster."),
            new("External-IP", "string", "", "External addresses of the service."),
            new("Port(s)", "string", "", "The ports the service exposes."),
            TableColumn.Age,
            new("Selector", "string", "", "The labels of the pods the service routes to.", 1),
        ],
        ServiceCells);

    public static readonly TablePrinter EndpointSlices = new(
        [
            TableColumn.ObjectName,
            new("AddressType", "string", "", "The type of the addresses in the slice (IPv4, IPv6, FQDN)."),
            new("Ports", "string", "", "The ports of the slice."),
            new("Endpoints", "string", "", "The addresses of the endpoints in the slice."),
            TableColumn.Age,
        ],
        static (slice, now) =>
        [
            TablePrinters.Name(slice),
            Fields.Text(slice["addressType"]),
            TablePrinters.FirstThree([.. Fields.Objects(slice["ports"]).Select(PortText)]),
            TablePrinters.FirstThree([.. Fields.Objects(slice["endpoints"]).SelectMany(e => Fields.Strings(e["addresses"]))]),
            Fields.Age(slice, now),
        ]);

    private static JsonNode?[] ServiceCells(JsonObject service, DateTimeOffset now)
    {
        var spec = service["spec"];
        var clusterIp = Fields.Strings(spec?["clusterIPs"]).FirstOrDefault() ?? Fields.TextOr(spec?["clusterIP"], Fields.None);
        var ports = string.Join(',', Fields.Objects(spec?["ports"]).Select(p =>
        {
            var protocol = Fields.TextOr(p["protocol"], "TCP");
            var nodePort = Fields.Number(p["nodePort"]);
            return nodePort > 0
                ? string.Create(CultureInfo.InvariantCulture, $"{Fields.Number(p["port"])}:{nodePort}/{protocol}")
                : string.Create(CultureInfo.InvariantCulture, $"{Fields.Number(p["port"])}/{protocol}");
        }));
        return
        [
            TablePrinters.Name(service),
            Fields.TextOr(spec?["type"], "ClusterIP"),
            clusterIp,
            ExternalIp(service),
            ports.Length > 0 ? ports : Fields.None,
            Fields.Age(service, now),
            Fields.Labels(spec?["selector"]),
        ];
    }

    private static string ExternalIp(JsonObject service)
    {
        var spec = service["spec"];
        var externalIps = Fields.Strings(spec?["externalIPs"]).ToList();
        switch (Fields.TextOr(spec?["type"], "ClusterIP"))
        {
            case "ClusterIP" or "NodePort":
                return externalIps.Count > 0 ? string.Join(',', externalIps) : Fields.None;
            case "LoadBalancer":
                var ingress = Fields.Objects(service["status"]?["loadBalancer"]?["ingress"])
                    .Select(i => Fields.TextOr(i["ip"], Fields.Text(i["hostname"])))
                    .Where(a => a.Length > 0)
                    .Concat(externalIps)
                    .ToList();
                return ingress.Count > 0 ? string.Join(',', ingress) : "<pending>";
            case "ExternalName":
                return Fields.Text(spec?["externalName"]);
            default:
                return "<unknown>";
        }
    }

    private static string PortText(JsonObject port)
        => port["port"] is JsonValue ? Fields.Number(port["port"]).ToString(CultureInfo.InvariantCulture) : Fields.TextOr(port["name"], "*");
}
