using System.Text.Json.Nodes;
using Federation.Etcd;

namespace Federation.Lab.ApiServer.Storage;

public sealed partial class ObjectStore
{
    /// <summary>
    /// Service defaults and ClusterIP handling. On create: type ClusterIP, port protocol TCP, targetPort = port,
    /// and a ClusterIP from the range (a requested one must be inside it; "None" stays headless). On update the
    /// ClusterIP is immutable and kept when the new object omits it. Returns the address to reserve, if any.
    /// </summary>
    /// <summary>Random probes into the range before scanning the reservations (the range must be large enough for probes to hit).</summary>
    private const int RandomProbes = 4;

    private async Task<(StoreResult? Error, uint? Reserve)> PrepareServiceAsync(JsonObject service, JsonObject? existing, CancellationToken cancellationToken, int attempt = 0)
    {
        var name = ObjectJson.Name(service) ?? "";
        if (service["spec"] is not JsonObject spec)
        {
            spec = [];
            service["spec"] = spec;
        }

        var causes = new List<FieldCause>();
        var type = ObjectJson.String(spec["type"]) ?? "ClusterIP";
        spec["type"] = type;
        spec["sessionAffinity"] ??= "None";
        if (spec["ports"] is JsonArray ports)
        {
            for (var i = 0; i < ports.Count; i++)
            {
                if (ports[i] is not JsonObject port)
                {
                    causes.Add(new FieldCause($"spec.ports[{i}]", "FieldValueInvalid", "Invalid value: must be an object"));
                    continue;
                }

                port["protocol"] ??= "TCP";
                if (port["port"] is not JsonValue number || !number.TryGetValue<int>(out var value) || value is < 1 or > 65535)
                {
                    causes.Add(new FieldCause($"spec.ports[{i}].port", "FieldValueInvalid", $"Invalid value: {port["port"]?.ToJsonString() ?? "null"}: must be between 1 and 65535, inclusive"));
                    continue;
                }

                port["targetPort"] ??= value;
            }
        }

        if (type == "ExternalName")
        {
            return causes.Count > 0 ? (StoreResult.Invalid(LabResources.Services, name, causes), null) : (null, null);
        }

        var requested = ObjectJson.String(spec["clusterIP"]);
        if (existing is not null)
        {
            var previous = ObjectJson.String(existing["spec"]?["clusterIP"]);
            if (string.IsNullOrEmpty(requested))
            {
                spec["clusterIP"] = previous;
                spec["clusterIPs"] = existing["spec"]?["clusterIPs"]?.DeepClone();
            }
            else if (requested != previous)
            {
                causes.Add(new FieldCause("spec.clusterIPs[0]", "FieldValueInvalid", $"Invalid value: []string{{\"{requested}\"}}: may not change once set"));
            }

            return causes.Count > 0 ? (StoreResult.Invalid(LabResources.Services, name, causes), null) : (null, null);
        }

        if (causes.Count > 0)
        {
            return (StoreResult.Invalid(LabResources.Services, name, causes), null);
        }

        if (requested == "None")
        {
            spec["clusterIPs"] = new JsonArray("None");
            return (null, null);
        }

        uint address;
        if (!string.IsNullOrEmpty(requested))
        {
            if (!ServiceIpRange.TryParseAddress(requested, out address) || !_serviceRange.Contains(address))
            {
                return (StoreResult.Invalid(LabResources.Services, name, [new FieldCause(
                    "spec.clusterIPs[0]",
                    "FieldValueInvalid",
                    $"Invalid value: \"{requested}\": failed to allocate IP {requested}: provided IP is not in the valid range. The range of valid IPs is {_serviceRange}")]), null);
            }
        }
        else if (attempt < RandomProbes && _serviceRange.Last - _serviceRange.First >= 64)
        {
            // As Kubernetes' allocator: a random address, so concurrent creates do not all reach for the same
            // one; the create transaction's compare on the reservation key decides, and a taken one is retried.
            address = _serviceRange.First + (uint)Random.Shared.NextInt64(_serviceRange.Last - _serviceRange.First + 1);
        }
        else
        {
            // Small or crowded range: look at the reservations and take a random free address.
            var taken = await _etcd.ListPrefixAsync(_prefix + ServiceIpSegment, keysOnly: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            var used = taken.Kvs
                .Select(kv => ServiceIpRange.TryParseAddress(kv.Key.ToStringUtf8()[(_prefix.Length + ServiceIpSegment.Length)..], out var ip) ? ip : 0)
                .ToHashSet();
            var free = new List<uint>();
            for (var candidate = _serviceRange.First; candidate <= _serviceRange.Last; candidate++)
            {
                if (!used.Contains(candidate))
                {
                    free.Add(candidate);
                }
            }

            address = free.Count == 0 ? 0 : free[Random.Shared.Next(free.Count)];

            if (address == 0)
            {
                return (StoreResult.Invalid(LabResources.Services, name, [new FieldCause(
                    "spec.clusterIPs", "FieldValueInvalid", $"Invalid value: failed to allocate a service IP: range {_serviceRange} is full")]), null);
            }
        }

        var text = ServiceIpRange.Format(address);
        spec["clusterIP"] = text;
        spec["clusterIPs"] = new JsonArray(text);
        spec["ipFamilies"] ??= new JsonArray("IPv4");
        spec["ipFamilyPolicy"] ??= "SingleStack";
        spec["internalTrafficPolicy"] ??= "Cluster";
        return (null, address);
    }
}
