using System.Text.Json.Nodes;
using Federation.Lab.ApiServer.Tables;

namespace Federation.Lab.Tests.Tables;

/// <summary>The READY, STATUS and RESTARTS cells of pods in the states kubectl users know.</summary>
public sealed class PodPrinterTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_running_pod_counts_ready_containers_and_shows_its_ip_and_node()
    {
        var cells = Cells("""
            {"metadata":{"name":"web","creationTimestamp":"2025-06-01T11:57:00Z"},
             "spec":{"nodeName":"node-a","containers":[{"name":"a"},{"name":"b"}]},
             "status":{"phase":"Running","podIP":"10.1.0.5","podIPs":[{"ip":"10.1.0.5"}],
               "containerStatuses":[{"name":"a","ready":true,"restartCount":0,"state":{"running":{}}},
                                    {"name":"b","ready":false,"restartCount":0,"state":{"running":{}}}]}}
            """);

        Assert.Equal(["web", "1/2", "Running", "0", "3m", "10.1.0.5", "node-a", "<none>", "<none>"], cells);
    }

    [Fact]
    public void A_crashing_container_gives_its_waiting_reason_and_when_it_last_restarted()
    {
        var cells = Cells("""
            {"metadata":{"name":"web"},
             "spec":{"containers":[{"name":"a"}]},
             "status":{"phase":"Running",
               "containerStatuses":[{"name":"a","ready":false,"restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}},
                                     "lastState":{"terminated":{"exitCode":1,"finishedAt":"2025-06-01T11:40:00Z"}}}]}}
            """);

        Assert.Equal(["web", "0/1", "CrashLoopBackOff", "3 (20m ago)", "<unknown>", "<none>", "<none>", "<none>", "<none>"], cells);
    }

    [Fact]
    public void A_pod_waiting_for_its_init_containers_shows_init_progress()
    {
        var cells = Cells("""
            {"metadata":{"name":"web"},
             "spec":{"initContainers":[{"name":"i1"},{"name":"i2"}],"containers":[{"name":"a"}]},
             "status":{"phase":"Pending",
               "initContainerStatuses":[{"name":"i1","state":{"terminated":{"exitCode":0}}},{"name":"i2","state":{"running":{}}}],
               "containerStatuses":[{"name":"a","state":{"waiting":{"reason":"PodInitializing"}}}]}}
            """);

        Assert.Equal("Init:1/2", cells[2]);
    }

    [Fact]
    public void A_failed_init_container_shows_its_exit_code()
    {
        var cells = Cells("""
            {"metadata":{"name":"web"},
             "spec":{"initContainers":[{"name":"i1"}],"containers":[{"name":"a"}]},
             "status":{"phase":"Pending","initContainerStatuses":[{"name":"i1","state":{"terminated":{"exitCode":2}}}]}}
            """);

        Assert.Equal("Init:ExitCode:2", cells[2]);
    }

    [Fact]
    public void A_deleted_pod_that_still_runs_is_Terminating()
    {
        var cells = Cells("""
            {"metadata":{"name":"web","deletionTimestamp":"2025-06-01T11:59:00Z"},
             "spec":{"containers":[{"name":"a"}]},
             "status":{"phase":"Running","containerStatuses":[{"name":"a","ready":true,"state":{"running":{}}}]}}
            """);

        Assert.Equal("Terminating", cells[2]);
    }

    [Fact]
    public void A_pod_with_a_completed_container_and_a_running_one_is_still_Running()
    {
        var cells = Cells("""
            {"metadata":{"name":"web"},
             "spec":{"containers":[{"name":"a"},{"name":"b"}]},
             "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],
               "containerStatuses":[{"name":"a","ready":true,"state":{"running":{}}},{"name":"b","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}
            """);

        Assert.Equal("1/2", cells[1]);
        Assert.Equal("Running", cells[2]);
    }

    [Fact]
    public void Readiness_gates_count_the_true_conditions()
    {
        var cells = Cells("""
            {"metadata":{"name":"web"},
             "spec":{"containers":[],"readinessGates":[{"conditionType":"example.com/lb"},{"conditionType":"example.com/dns"}]},
             "status":{"phase":"Running","conditions":[{"type":"example.com/lb","status":"True"},{"type":"example.com/dns","status":"False"}]}}
            """);

        Assert.Equal("1/2", cells[8]);
    }

    [Fact]
    public void A_succeeded_pod_row_carries_the_Completed_condition()
    {
        var pod = (JsonObject)JsonNode.Parse("""{"metadata":{"name":"job"},"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Succeeded"}}""")!;

        var conditions = PodPrinter.Printer.Conditions(pod);

        Assert.Equal("Succeeded", Cells(pod.ToJsonString())[2]);
        Assert.Equal("Completed", conditions![0]!["type"]!.ToString());
    }

    private static string[] Cells(string json)
        => [.. PodPrinter.Printer.Cells((JsonObject)JsonNode.Parse(json)!, Now).Select(c => c?.ToString() ?? "(null)")];
}
