using System.Globalization;
using System.Text.Json.Nodes;

namespace Federation.Lab.ApiServer.Tables;

/// <summary>
/// Pod rows as kube-apiserver prints them: READY counts ready containers, STATUS is the phase refined by
/// init-container and container states, RESTARTS adds when the last restart was.
/// </summary>
internal static class PodPrinter
{
    public static readonly TablePrinter Printer = new(
        [
            TableColumn.ObjectName,
            new("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic."),
            new("Status", "string", "", "The aggregate status of the containers in this pod."),
            new("Restarts", "string", "", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
            TableColumn.Age,
            new("IP", "string", "", "IP address allocated to the pod.", 1),
            new("Node", "string", "", "Name of the node the pod runs on.", 1),
            new("Nominated Node", "string", "", "Name of the node the scheduler nominated for the pod.", 1),
            new("Readiness Gates", "string", "", "Readiness gates that are true, of those the pod declares.", 1),
        ],
        Cells)
    {
        Conditions = Conditions,
    };

    private static JsonNode?[] Cells(JsonObject pod, DateTimeOffset now)
    {
        var spec = pod["spec"];
        var status = pod["status"];
        var metadata = pod["metadata"];
        var phase = Fields.Text(status?["phase"]);
        var reason = Fields.TextOr(status?["reason"], phase);
        var conditions = status?["conditions"];
        if (Fields.Objects(conditions).Any(c => Fields.Text(c["type"]) == "PodScheduled" && Fields.Text(c["status"]) == "False" && Fields.Text(c["reason"]) == "SchedulingGated"))
        {
            reason = "SchedulingGated";
        }

        var initContainers = Fields.Objects(spec?["initContainers"]).ToList();
        var sidecars = initContainers.Where(c => Fields.Text(c["restartPolicy"]) == "Always").Select(c => Fields.Text(c["name"])).ToHashSet(StringComparer.Ordinal);
        var total = Fields.Count(spec?["containers"]) + sidecars.Count;
        var ready = 0;
        var restarts = 0L;
        var sidecarRestarts = 0L;
        DateTimeOffset? lastRestart = null;
        DateTimeOffset? lastSidecarRestart = null;

        var initializing = false;
        var index = 0;
        foreach (var container in Fields.Objects(status?["initContainerStatuses"]))
        {
            var sidecar = sidecars.Contains(Fields.Text(container["name"]));
            restarts += Fields.Number(container["restartCount"]);
            lastRestart = Later(lastRestart, LastTermination(container));
            if (sidecar)
            {
                sidecarRestarts += Fields.Number(container["restartCount"]);
                lastSidecarRestart = Later(lastSidecarRestart, LastTermination(container));
            }

            var state = container["state"];
            var terminated = state?["terminated"] as JsonObject;
            var waiting = state?["waiting"] as JsonObject;
            if (terminated is not null && Fields.Number(terminated["exitCode"]) == 0)
            {
                index++;
                continue;
            }

            if (sidecar && Fields.IsTrue(container["started"]))
            {
                ready += Fields.IsTrue(container["ready"]) ? 1 : 0;
                index++;
                continue;
            }

            if (terminated is not null)
            {
                reason = "Init:" + TerminatedReason(terminated);
            }
            else if (waiting is not null && Fields.Text(waiting["reason"]) is { Length: > 0 } waitReason && waitReason != "PodInitializing")
            {
                reason = "Init:" + waitReason;
            }
            else
            {
                reason = string.Create(CultureInfo.InvariantCulture, $"Init:{index}/{initContainers.Count}");
            }

            initializing = true;
            break;
        }

        if (!initializing || Fields.Condition(conditions, "Initialized") == "True")
        {
            restarts = sidecarRestarts;
            lastRestart = lastSidecarRestart;
            var hasRunning = false;
            foreach (var container in Fields.Objects(status?["containerStatuses"]).Reverse())
            {
                restarts += Fields.Number(container["restartCount"]);
                lastRestart = Later(lastRestart, LastTermination(container));
                var state = container["state"];
                if (state?["waiting"] is JsonObject waiting && Fields.Text(waiting["reason"]) is { Length: > 0 } waitReason)
                {
                    reason = waitReason;
                }
                else if (state?["terminated"] is JsonObject terminated)
                {
                    reason = TerminatedReason(terminated);
                }
                else if (Fields.IsTrue(container["ready"]) && state?["running"] is JsonObject)
                {
                    hasRunning = true;
                    ready++;
                }
            }

            // A pod whose last container completed is still Running while another one runs.
            if (reason == "Completed" && hasRunning)
            {
                reason = Fields.Condition(conditions, "Ready") == "True" ? "Running" : "NotReady";
            }
        }

        if (metadata?["deletionTimestamp"] is not null)
        {
            if (Fields.Text(status?["reason"]) == "NodeLost")
            {
                reason = "Unknown";
            }
            else if (phase is not ("Succeeded" or "Failed"))
            {
                reason = "Terminating";
            }
        }

        var restartText = restarts.ToString(CultureInfo.InvariantCulture);
        if (restarts != 0 && lastRestart is { } last)
        {
            restartText += $" ({HumanDuration.Format(now - last)} ago)";
        }

        var ip = Fields.Objects(status?["podIPs"]).Select(p => Fields.Text(p["ip"])).FirstOrDefault(p => p.Length > 0)
            ?? Fields.TextOr(status?["podIP"], Fields.None);
        return
        [
            Fields.Text(metadata?["name"]),
            string.Create(CultureInfo.InvariantCulture, $"{ready}/{total}"),
            reason,
            restartText,
            Fields.Age(pod, now),
            ip,
            Fields.TextOr(spec?["nodeName"], Fields.None),
            Fields.TextOr(status?["nominatedNodeName"], Fields.None),
            ReadinessGates(spec?["readinessGates"], conditions),
        ];
    }

    private static string ReadinessGates(JsonNode? gates, JsonNode? conditions)
    {
        var types = Fields.Objects(gates).Select(g => Fields.Text(g["conditionType"])).ToList();
        if (types.Count == 0)
        {
            return Fields.None;
        }

        var met = types.Count(t => Fields.Condition(conditions, t) == "True");
        return string.Create(CultureInfo.InvariantCulture, $"{met}/{types.Count}");
    }

    private static string TerminatedReason(JsonObject terminated)
    {
        if (Fields.Text(terminated["reason"]) is { Length: > 0 } reason)
        {
            return reason;
        }

        var signal = Fields.Number(terminated["signal"]);
        return signal != 0
            ? string.Create(CultureInfo.InvariantCulture, $"Signal:{signal}")
            : string.Create(CultureInfo.InvariantCulture, $"ExitCode:{Fields.Number(terminated["exitCode"])}");
    }

    private static DateTimeOffset? LastTermination(JsonObject container) => Fields.Time(container["lastState"]?["terminated"]?["finishedAt"]);

    private static DateTimeOffset? Later(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    private static JsonArray? Conditions(JsonObject pod) => Fields.Text(pod["status"]?["phase"]) switch
    {
        "Succeeded" => [new JsonObject { ["type"] = "Completed", ["status"] = "True", ["reason"] = "Succeeded", ["message"] = "The pod has completed successfully." }],
        "Failed" => [new JsonObject { ["type"] = "Completed", ["status"] = "True", ["reason"] = "Error", ["message"] = "The pod failed." }],
        _ => null,
    };
}
