using Federation.Mesh.Services;
using static Federation.Mesh.Tests.Services.ServiceFixtures;

namespace Federation.Mesh.Tests.Services;

/// <summary>
/// DESIGN.md §4 as a truth table. Local cluster "a" (ID 1), remote cluster "b" (ID 2); one frontend
/// 10.96.0.10:80/TCP "http". Local active backends present: 10.0.1.1 Active, else only 10.0.1.9 NotReady.
/// Remote backends present: 10.0.2.1, else the remote service exists with no backend.
/// </summary>
public sealed class GlobalServiceMergeTruthTableTests
{
    [Theory]
    //          local   remote  remote  affinity                local    remote
    //          global  global  shared                          active   backends expected
    [InlineData(true,  true,  true,  ServiceAffinity.None,   true,  true,  "a/10.0.1.1:8080 b/10.0.2.1:8080")]
    [InlineData(true,  true,  true,  ServiceAffinity.None,   true,  false, "a/10.0.1.1:8080")]
    [InlineData(true,  true,  true,  ServiceAffinity.None,   false, true,  "b/10.0.2.1:8080")]
    [InlineData(true,  true,  true,  ServiceAffinity.None,   false, false, "")]
    [InlineData(true,  true,  true,  ServiceAffinity.Local,  true,  true,  "a/10.0.1.1:8080")]
    [InlineData(true,  true,  true,  ServiceAffinity.Local,  true,  false, "a/10.0.1.1:8080")]
    [InlineData(true,  true,  true,  ServiceAffinity.Local,  false, true,  "b/10.0.2.1:8080")]
    [InlineData(true,  true,  true,  ServiceAffinity.Local,  false, false, "")]
    [InlineData(true,  true,  true,  ServiceAffinity.Remote, true,  true,  "b/10.0.2.1:8080")]
    [InlineData(true,  true,  true,  ServiceAffinity.Remote, true,  false, "a/10.0.1.1:8080")]
    [InlineData(true,  true,  true,  ServiceAffinity.Remote, false, true,  "b/10.0.2.1:8080")]
    [InlineData(true,  true,  true,  ServiceAffinity.Remote, false, false, "")]
    [InlineData(true,  true,  false, ServiceAffinity.None,   true,  true,  "a/10.0.1.1:8080")]
    [InlineData(true,  true,  false, ServiceAffinity.None,   true,  false, "a/10.0.1.1:8080")]
    [InlineData(true,  true,  false, ServiceAffinity.None,   false, true,  "")]
    [InlineData(true,  true,  false, ServiceAffinity.None,   false, false, "")]
    [InlineData(true,  true,  false, ServiceAffinity.Local,  true,  true,  "a/10.0.1.1:8080")]
    [InlineData(true,  true,  false, ServiceAffinity.Local,  true,  false, "a/10.0.1.1:8080")]
    [InlineData(true,  true,  false, ServiceAffinity.Local,  false, true,  "")]
    [InlineData(true,  true,  false, ServiceAffinity.Local,  false, false, "")]
    [InlineData(true,  true,  false, ServiceAffinity.Remote, true,  true,  "a/10.0.1.1:8080")]
    [InlineData(true,  true,  false, ServiceAffinity.Remote, true,  false, "a/10.0.1.1:8080")]
    [InlineData(true,  true,  false, ServiceAffinity.Remote, false, true,  "")]
    [InlineData(true,  true,  false, ServiceAffinity.Remote, false, false, "")]
    [InlineData(true,  false, true,  ServiceAffinity.None,   true,  true,  "a/10.0.1.1:8080")]
    [InlineData(true,  false, true,  ServiceAffinity.None,   true,  false, "a/10.0.1.1:8080")]
    [InlineData(true,  false, true,  ServiceAffinity.None,   false, true,  "")]
    [InlineData(true,  false, true,  ServiceAffinity.None,   false, false, "")]
    [InlineData(true,  false, true,  ServiceAffinity.Local,  true,  true,  "a/10.0.1.1:8080")]
    [InlineData(true,  false, true,  ServiceAffinity.Local,  true,  false, "a/10.0.1.1:8080")]
    [InlineData(true,  false, true,  ServiceAffinity.Local,  false, true,  "")]
    [InlineData(true,  false, true,  ServiceAffinity.Local,  false, false, "")]
    [InlineData(true,  false, true,  ServiceAffinity.Remote, true,  true,  "a/10.0.1.1:8080")]
    [InlineData(true,  false, true,  ServiceAffinity.Remote, true,  false, "a/10.0.1.1:8080")]
    [InlineData(true,  false, true,  ServiceAffinity.Remote, false, true,  "")]
    [InlineData(true,  false, true,  ServiceAffinity.Remote, false, false, "")]
    [InlineData(true,  false, false, ServiceAffinity.None,   true,  true,  "a/10.0.1.1:8080")]
    [InlineData(true,  false, false, ServiceAffinity.None,   true,  false, "a/10.0.1.1:8080")]
    [InlineData(true,  false, false, ServiceAffinity.None,   false, true,  "")]
    [InlineData(true,  false, false, ServiceAffinity.None,   false, false, "")]
    [InlineData(true,  false, false, ServiceAffinity.Local,  true,  true,  "a/10.0.1.1:8080")]
    [InlineData(true,  false, false, ServiceAffinity.Local,  true,  false, "a/10.0.1.1:8080")]
    [InlineData(true,  false, false, ServiceAffinity.Local,  false, true,  "")]
    [InlineData(true,  false, false, ServiceAffinity.Local,  false, false, "")]
    [InlineData(true,  false, false, ServiceAffinity.Remote, true,  true,  "a/10.0.1.1:8080")]
    [InlineData(true,  false, false, ServiceAffinity.Remote, true,  false, "a/10.0.1.1:8080")]
    [InlineData(true,  false, false, ServiceAffinity.Remote, false, true,  "")]
    [InlineData(true,  false, false, ServiceAffinity.Remote, false, false, "")]
    [InlineData(false, true,  true,  ServiceAffinity.None,   true,  true,  "a/10.0.1.1:8080")]
    [InlineData(false, true,  true,  ServiceAffinity.None,   true,  false, "a/10.0.1.1:8080")]
    [InlineData(false, true,  true,  ServiceAffinity.None,   false, true,  "")]
    [InlineData(false, true,  true,  ServiceAffinity.None,   false, false, "")]
    [InlineData(false, true,  true,  ServiceAffinity.Local,  true,  true,  "a/10.0.1.1:8080")]
    [InlineData(false, true,  true,  ServiceAffinity.Local,  true,  false, "a/10.0.1.1:8080")]
    [InlineData(false, true,  true,  ServiceAffinity.Local,  false, true,  "")]
    [InlineData(false, true,  true,  ServiceAffinity.Local,  false, false, "")]
    [InlineData(false, true,  true,  ServiceAffinity.Remote, true,  true,  "a/10.0.1.1:8080")]
    [InlineData(false, true,  true,  ServiceAffinity.Remote, true,  false, "a/10.0.1.1:8080")]
    [InlineData(false, true,  true,  ServiceAffinity.Remote, false, true,  "")]
    [InlineData(false, true,  true,  ServiceAffinity.Remote, false, false, "")]
    [InlineData(false, true,  false, ServiceAffinity.None,   true,  true,  "a/10.0.1.1:8080")]
    [InlineData(false, true,  false, ServiceAffinity.None,   true,  false, "a/10.0.1.1:8080")]
    [InlineData(false, true,  false, ServiceAffinity.None,   false, true,  "")]
    [InlineData(false, true,  false, ServiceAffinity.None,   false, false, "")]
    [InlineData(false, true,  false, ServiceAffinity.Local,  true,  true,  "a/10.0.1.1:8080")]
    [InlineData(false, true,  false, ServiceAffinity.Local,  true,  false, "a/10.0.1.1:8080")]
    [InlineData(false, true,  false, ServiceAffinity.Local,  false, true,  "")]
    [InlineData(false, true,  false, ServiceAffinity.Local,  false, false, "")]
    [InlineData(false, true,  false, ServiceAffinity.Remote, true,  true,  "a/10.0.1.1:8080")]
    [InlineData(false, true,  false, ServiceAffinity.Remote, true,  false, "a/10.0.1.1:8080")]
    [InlineData(false, true,  false, ServiceAffinity.Remote, false, true,  "")]
    [InlineData(false, true,  false, ServiceAffinity.Remote, false, false, "")]
    [InlineData(false, false, true,  ServiceAffinity.None,   true,  true,  "a/10.0.1.1:8080")]
    [InlineData(false, false, true,  ServiceAffinity.None,   true,  false, "a/10.0.1.1:8080")]
    [InlineData(false, false, true,  ServiceAffinity.None,   false, true,  "")]
    [InlineData(false, false, true,  ServiceAffinity.None,   false, false, "")]
    [InlineData(false, false, true,  ServiceAffinity.Local,  true,  true,  "a/10.0.1.1:8080")]
    [InlineData(false, false, true,  ServiceAffinity.Local,  true,  false, "a/10.0.1.1:8080")]
    [InlineData(false, false, true,  ServiceAffinity.Local,  false, true,  "")]
    [InlineData(false, false, true,  ServiceAffinity.Local,  false, false, "")]
    [InlineData(false, false, true,  ServiceAffinity.Remote, true,  true,  "a/10.0.1.1:8080")]
    [InlineData(false, false, true,  ServiceAffinity.Remote, true,  false, "a/10.0.1.1:8080")]
    [InlineData(false, false, true,  ServiceAffinity.Remote, false, true,  "")]
    [InlineData(false, false, true,  ServiceAffinity.Remote, false, false, "")]
    [InlineData(false, false, false, ServiceAffinity.None,   true,  true,  "a/10.0.1.1:8080")]
    [InlineData(false, false, false, ServiceAffinity.None,   true,  false, "a/10.0.1.1:8080")]
    [InlineData(false, false, false, ServiceAffinity.None,   false, true,  "")]
    [InlineData(false, false, false, ServiceAffinity.None,   false, false, "")]
    [InlineData(false, false, false, ServiceAffinity.Local,  true,  true,  "a/10.0.1.1:8080")]
    [InlineData(false, false, false, ServiceAffinity.Local,  true,  false, "a/10.0.1.1:8080")]
    [InlineData(false, false, false, ServiceAffinity.Local,  false, true,  "")]
    [InlineData(false, false, false, ServiceAffinity.Local,  false, false, "")]
    [InlineData(false, false, false, ServiceAffinity.Remote, true,  true,  "a/10.0.1.1:8080")]
    [InlineData(false, false, false, ServiceAffinity.Remote, true,  false, "a/10.0.1.1:8080")]
    [InlineData(false, false, false, ServiceAffinity.Remote, false, true,  "")]
    [InlineData(false, false, false, ServiceAffinity.Remote, false, false, "")]
    public void Selection_follows_globality_sharing_affinity_and_health(
        bool localGlobal, bool remoteGlobal, bool remoteShared, ServiceAffinity affinity, bool localActive, bool remoteBackends, string expected)
    {
        var local = Local(
            global: localGlobal,
            affinity: affinity,
            backends: [localActive ? HttpBackend("10.0.1.1") : HttpBackend("10.0.1.9", BackendState.NotReady)]);
        var remote = RemoteService(
            "b",
            2,
            global: remoteGlobal,
            shared: remoteShared,
            backends: remoteBackends ? [("10.0.2.1", [("http", "TCP", 8080)])] : []);

        var merged = GlobalServiceMerge.Compute(local, Remotes(remote), localClusterId: 1, localClusterName: "a");

        Assert.Equal(expected, Describe(merged));
    }
}
