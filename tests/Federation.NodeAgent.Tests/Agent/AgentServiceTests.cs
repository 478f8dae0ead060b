using Federation.Etcd.Tests.Infrastructure;
using Federation.Mesh.Services;
using Federation.NodeAgent.Hosting;
using Federation.NodeAgent.Sync;
using Federation.NodeAgent.Tests.Datapath;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Federation.NodeAgent.Tests.Agent;

/// <summary>
/// The node agent in-process against the lab API server, programming real maps attached to a throwaway cgroup;
/// clients in the cgroup connect to ClusterIPs and the loopback backends answer with their names.
/// </summary>
[Trait("Needs", "root")]
[Trait("Needs", "bpf")]
[Trait("Needs", "etcd")]
public sealed class AgentServiceTests : IAsyncLifetime
{
    private AgentEnvironment _env = null!;

    public async Task InitializeAsync() => _env = await AgentEnvironment.StartAsync();

    public async Task DisposeAsync() => await _env.DisposeAsync();

    [Fact]
    public async Task Service_endpoints_are_load_balanced_unready_ones_dropped_and_a_deleted_service_no_longer_translated()
    {
        var agent = await _env.StartAgentAsync();
        var port = _env.FreePort();
        var a = _env.Backend("web-a", 0, 1, port);
        var b = _env.Backend("web-b", 0, 2, port);
        var service = await _env.ApplyServiceAsync("web");
        var vip = service.Spec!.ClusterIP!;
        await _env.ApplySliceAsync("web", port, (a, true), (b, true));
        await AgentEnvironment.WaitForBackendsAsync(agent, "web", [a, b], "web programmed with both ready endpoints");

        var (counts, errors) = await _env.ConnectAsync(vip);
        Assert.Empty(errors);
        Assert.Equal(["web-a", "web-b"], counts.Keys.Order(StringComparer.Ordinal));

        await _env.ApplySliceAsync("web", port, (a, true), (b, false));
        await AgentEnvironment.WaitForBackendsAsync(agent, "web", [a], "the not-ready endpoint deselected");
        (counts, errors) = await _env.ConnectAsync(vip);
        Assert.Empty(errors);
        Assert.Equal(["web-a"], counts.Keys);

        await _env.Kubernetes.DeleteAsync<Kubernetes.Models.Service>("default", "web");
        await AgentEnvironment.WaitForBackendsAsync(agent, "web", null, "the deleted service unprogrammed");
        Assert.DoesNotContain($"{vip}:80/TCP", _env.ProgrammedFrontends());
        (counts, errors) = await _env.ConnectAsync(vip, count: 3);
        Assert.Empty(counts);
        // Not translated: the connect goes to the VIP itself, where nothing listens.
        Assert.Equal(3, errors.GetValueOrDefault("111"));

        var status = await new HttpClient().GetStringAsync(new Uri(agent.HealthUri, "status"));
        Assert.DoesNotContain(vip, status, StringComparison.Ordinal);
        var metrics = await new HttpClient().GetStringAsync(new Uri(agent.HealthUri, "metrics"));
        Assert.Contains("federation_agent_datapath_translations_total", metrics, StringComparison.Ordinal);
        Assert.Contains("federation_agent_ready 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Global_service_uses_remote_backends_by_affinity_and_failover_and_never_unshared_ones()
    {
        var remote = await _env.StartRemoteAsync("cluster2", 2);
        remote.WriteConfigFile(_env.ClusterMeshConfig);
        var port = _env.FreePort();
        var local1 = _env.Backend("local-1", 0, 1, port);
        var local2 = _env.Backend("local-2", 0, 2, port);
        var remote1 = _env.Backend("remote-1", 1, 1, port, clusterId: 2);
        var remote2 = _env.Backend("remote-2", 1, 2, port, clusterId: 2);
        await remote.PutServiceAsync("global", port, shared: true, remote1, remote2);
        var service = await _env.ApplyServiceAsync("global", Annotations("local"));
        var vip = service.Spec!.ClusterIP!;
        await _env.ApplySliceAsync("global", port, (local1, true), (local2, true));

        var agent = await _env.StartAgentAsync();
        await AgentEnvironment.WaitForBackendsAsync(agent, "global", [local1, local2], "affinity local: only the local backends");
        await ExpectReachedAsync(vip, "local-1", "local-2");
        var state = agent.Services.GetRequiredService<AgentState>();
        Assert.True(state.RemoteSynced);

        await _env.ApplySliceAsync("global", port, (local1, false), (local2, false));
        await AgentEnvironment.WaitForBackendsAsync(agent, "global", [remote1, remote2], "affinity local, no local ready: fail over to remote");
        await ExpectReachedAsync(vip, "remote-1", "remote-2");
        Assert.Equal(2, state.Programmed.BackendsPerCluster["cluster2"]);

        await _env.ApplySliceAsync("global", port, (local1, true), (local2, false));
        await AgentEnvironment.WaitForBackendsAsync(agent, "global", [local1], "a local backend is back: local again");
        await ExpectReachedAsync(vip, "local-1");

        await _env.ApplyServiceAsync("global", Annotations("remote"));
        await AgentEnvironment.WaitForBackendsAsync(agent, "global", [remote1, remote2], "affinity remote: only the remote backends");
        await ExpectReachedAsync(vip, "remote-1", "remote-2");

        await remote.PutServiceAsync("global", port, shared: true, remote1);
        await remote.PutServiceAsync("global", port, shared: true);
        await AgentEnvironment.WaitForBackendsAsync(agent, "global", [local1], "affinity remote, no remote backend: fail over to local");
        await remote.PutServiceAsync("global", port, shared: true, remote1, remote2);

        await _env.ApplyServiceAsync("global", Annotations("none"));
        await AgentEnvironment.WaitForBackendsAsync(agent, "global", [local1, remote1, remote2], "affinity none: every ready backend");
        await ExpectReachedAsync(vip, "local-1", "remote-1", "remote-2");

        await remote.PutServiceAsync("global", port, shared: false, remote1, remote2);
        await AgentEnvironment.WaitForBackendsAsync(agent, "global", [local1], "cluster2 no longer shares: its backends are not used");
        await ExpectReachedAsync(vip, "local-1");
    }

    [Fact]
    public async Task Restart_keeps_the_maps_serving_and_removes_stale_entries_only_after_every_source_synced()
    {
        var port = _env.FreePort();
        var keep = _env.Backend("keep", 0, 1, port);
        var stale = _env.Backend("stale", 0, 2, port);
        var keepVip = (await _env.ApplyServiceAsync("keep")).Spec!.ClusterIP!;
        var staleVip = (await _env.ApplyServiceAsync("stale")).Spec!.ClusterIP!;
        await _env.ApplySliceAsync("keep", port, (keep, true));
        await _env.ApplySliceAsync("stale", port, (stale, true));
        var first = await _env.StartAgentAsync();
        await AgentEnvironment.WaitForBackendsAsync(first, "keep", [keep], "keep programmed");
        await AgentEnvironment.WaitForBackendsAsync(first, "stale", [stale], "stale programmed");

        // A client connecting all through the restart.
        var stop = Path.Combine(_env.Directory, "stop-loop");
        using var loop = CgroupClient.Start(_env.Cgroup, "loop", keepVip, "80", stop);
        await Eventually.TrueAsync(() => loop.Lines.Count > 0, AgentEnvironment.Timeout, "the looping client connected once");

        await _env.StopAgentAsync(first);
        await ExpectReachedAsync(keepVip, "keep");
        await ExpectReachedAsync(staleVip, "stale");

        // While the agent is down: the stale service goes away, and a remote cluster appears that is not synced yet.
        await _env.Kubernetes.DeleteAsync<Kubernetes.Models.Service>("default", "stale");
        var remote = await _env.StartRemoteAsync("cluster2", 2, canaries: false);
        remote.WriteConfigFile(_env.ClusterMeshConfig);

        var second = await _env.StartAgentAsync();
        var state = second.Services.GetRequiredService<AgentState>();
        await Eventually.TrueAsync(
            () => state.LocalSynced && state.WaitingFor?.Contains("cluster2", StringComparison.Ordinal) == true,
            AgentEnvironment.Timeout,
            "the restarted agent synced locally and waits for cluster2");
        using var http = new HttpClient();
        var readyz = await http.GetAsync(new Uri(second.HealthUri, "readyz"));
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, readyz.StatusCode);
        Assert.Contains("cluster2", await readyz.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await ExpectReachedAsync(staleVip, "stale");
        Assert.Contains($"{staleVip}:80/TCP", _env.ProgrammedFrontends());

        await remote.PutCanariesAsync();
        await Eventually.TrueAsync(() => state.Ready, AgentEnvironment.Timeout, "the restarted agent applied after cluster2 synced");
        Assert.False(state.SyncTimedOut);
        Assert.True((await http.GetAsync(new Uri(second.HealthUri, "readyz"))).IsSuccessStatusCode);
        Assert.DoesNotContain($"{staleVip}:80/TCP", _env.ProgrammedFrontends());
        Assert.Contains($"{keepVip}:80/TCP", _env.ProgrammedFrontends());
        var (counts, errors) = await _env.ConnectAsync(staleVip, count: 3);
        Assert.Empty(counts);
        Assert.Equal(3, errors.GetValueOrDefault("111"));
        await ExpectReachedAsync(keepVip, "keep");

        File.WriteAllText(stop, "");
        await loop.WaitForExitAsync(AgentEnvironment.Timeout);
        Assert.NotEmpty(loop.Lines);
        Assert.All(loop.Lines, line => Assert.Equal("keep", line));
    }

    [Fact]
    public async Task Sync_timeout_programs_what_is_known_and_says_so_dump_prints_the_service_and_its_backends_and_uninstall_detaches()
    {
        var remote = await _env.StartRemoteAsync("cluster2", 2, canaries: false);
        remote.WriteConfigFile(_env.ClusterMeshConfig);
        var port = _env.FreePort();
        var a = _env.Backend("dump-a", 0, 1, port);
        var b = _env.Backend("dump-b", 0, 2, port);
        var vip = (await _env.ApplyServiceAsync("dumped")).Spec!.ClusterIP!;
        await _env.ApplySliceAsync("dumped", port, (a, true), (b, true));
        var options = _env.Options();
        options.SyncTimeout = TimeSpan.FromSeconds(2);
        var agent = await _env.StartAgentAsync(options);
        await AgentEnvironment.WaitForBackendsAsync(agent, "dumped", [a, b], "programmed after the sync timeout");
        var state = agent.Services.GetRequiredService<AgentState>();
        Assert.True(state.SyncTimedOut);
        Assert.False(state.RemoteSynced);
        var status = await new HttpClient().GetStringAsync(new Uri(agent.HealthUri, "status"));
        Assert.Contains("\"timedOut\": true", status, StringComparison.Ordinal);
        Assert.Contains("--sync-timeout", status, StringComparison.Ordinal);
        await ExpectReachedAsync(vip, "dump-a", "dump-b");

        var (exit, table, error) = await AgentEnvironment.RunAgentProcessAsync(
            "--dump", "--node-name", _env.NodeName, "--bpffs-root", _env.BpfFsRoot, "--state-dir", _env.StateDirectory);
        Assert.True(exit == 0, $"--dump exited with {exit}: {error}");
        Assert.Contains($"{vip}:80/TCP", table, StringComparison.Ordinal);
        Assert.Contains("default/dumped", table, StringComparison.Ordinal);
        Assert.Contains(a.EndPoint + "/TCP", table, StringComparison.Ordinal);
        Assert.Contains(b.EndPoint + "/TCP", table, StringComparison.Ordinal);
        Assert.Contains("(master: 2 backends", table, StringComparison.Ordinal);

        // --uninstall detaches and unpins: the service is no longer translated even though nobody reprogrammed it.
        await _env.StopAgentAsync(agent);
        (exit, _, error) = await AgentEnvironment.RunAgentProcessAsync("--uninstall", "--node-name", _env.NodeName, "--bpffs-root", _env.BpfFsRoot);
        Assert.True(exit == 0, $"--uninstall exited with {exit}: {error}");
        Assert.False(Directory.Exists(Path.Combine(_env.BpfFsRoot, _env.NodeName)));
        var (counts, errors) = await _env.ConnectAsync(vip, count: 3);
        Assert.Empty(counts);
        Assert.Equal(3, errors.GetValueOrDefault("111"));
    }

    [Fact]
    public async Task With_the_cache_source_remote_backends_arrive_through_kvstoremesh_in_the_local_etcd()
    {
        // cluster2 holds its state in its own etcd; cluster1's apiserver mirrors it into cluster1's etcd
        // (kvstoremesh); the agent reads only cluster1's etcd.
        var remote = await _env.StartRemoteAsync("cluster2", 2);
        var meshConfig = System.IO.Directory.CreateDirectory(Path.Combine(_env.Directory, "kvstoremesh")).FullName;
        remote.WriteConfigFile(meshConfig);
        await using var localEtcd = await EtcdServer.StartAsync();
        var apiserverOptions = new Federation.ClusterMesh.ApiServer.Hosting.ApiServerOptions
        {
            ClusterName = AgentEnvironment.ClusterName,
            ClusterId = AgentEnvironment.ClusterId,
            EtcdEndpoints = [.. localEtcd.ClientEndpoints],
            Kubeconfig = _env.KubeconfigPath,
            KubeContext = AgentEnvironment.ClusterName,
            HealthListen = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
            ClusterMeshConfig = meshConfig,
        };
        await using var apiserver = await Federation.ClusterMesh.ApiServer.Hosting.ApiServerHost.StartAsync(
            apiserverOptions, logging => logging.SetMinimumLevel(LogLevel.Warning));

        var port = _env.FreePort();
        var local1 = _env.Backend("local-1", 0, 1, port);
        var remote1 = _env.Backend("remote-1", 1, 1, port, clusterId: 2);
        var remote2 = _env.Backend("remote-2", 1, 2, port, clusterId: 2);
        await remote.PutServiceAsync("cached", port, shared: true, remote1, remote2);
        var service = await _env.ApplyServiceAsync("cached", Annotations("none"));
        await _env.ApplySliceAsync("cached", port, (local1, true));

        var options = _env.Options();
        options.RemoteSource = RemoteSourceKind.Cache;
        options.EtcdEndpoints = [.. localEtcd.ClientEndpoints];
        var agent = await _env.StartAgentAsync(options);
        await AgentEnvironment.WaitForBackendsAsync(agent, "cached", [local1, remote1, remote2], "local and cluster2's backends, read from the local etcd");
        await ExpectReachedAsync(service.Spec!.ClusterIP!, "local-1", "remote-1", "remote-2");
        var source = agent.Services.GetRequiredService<Federation.Mesh.Remote.IRemoteClusterSource>();
        Assert.IsType<Federation.Mesh.Remote.CachedRemoteClusterSource>(source);
        Assert.Equal(localEtcd.ClientEndpoints[0].ToString(), Assert.Single(source.GetStatus().Find("cluster2")!.Endpoints));

        // A change in cluster2 travels cluster2's etcd → kvstoremesh → cluster1's etcd → the agent.
        await remote.PutServiceAsync("cached", port, shared: true, remote2);
        await AgentEnvironment.WaitForBackendsAsync(agent, "cached", [local1, remote2], "cluster2's change");
        await ExpectReachedAsync(service.Spec!.ClusterIP!, "local-1", "remote-2");
    }

    private static Dictionary<string, string> Annotations(string affinity) => new()
    {
        [GlobalServiceAnnotations.Global] = "true",
        [GlobalServiceAnnotations.Affinity] = affinity,
    };

    /// <summary>Enough connections that missing one of <paramref name="names"/> by chance is below one in a million.</summary>
    private async Task ExpectReachedAsync(string vip, params string[] names)
    {
        var (counts, errors) = await _env.ConnectAsync(vip, 8 + (16 * names.Length));
        Assert.Empty(errors);
        Assert.Equal(names.Order(StringComparer.Ordinal), counts.Keys.Order(StringComparer.Ordinal));
    }
}
