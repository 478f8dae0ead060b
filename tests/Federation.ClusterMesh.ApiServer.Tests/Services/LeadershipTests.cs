using System.Text.Json.Nodes;
using Federation.ClusterMesh.ApiServer.HighAvailability;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.Kubernetes.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Federation.ClusterMesh.ApiServer.Tests.Services;

/// <summary>
/// The exporters keep their caches warm as standbys and write only while leading. Leadership is switched by the
/// test (a fake: the election itself belongs to the HA part and is tested there).
/// </summary>
[Trait("Needs", "etcd")]
public sealed class LeadershipTests : IAsyncLifetime
{
    private const string ServiceKey = "cilium/state/services/v1/cluster1/ha/api";
    private readonly ClusterEnvironment _env = new();

    public Task InitializeAsync() => _env.InitializeAsync();

    public Task DisposeAsync() => _env.DisposeAsync();

    [Fact]
    public async Task Standby_writes_nothing_a_new_term_writes_the_warm_cache_and_a_lost_term_keeps_keys_without_writing()
    {
        var leadership = new SwitchableLeadership();
        await using var host = await ApiServerHost.StartAsync(
            _env.Options(), logging => logging.SetMinimumLevel(LogLevel.Warning), services => services.AddSingleton<ILeadership>(leadership));
        using var http = new HttpClient { BaseAddress = host.HealthUri };
        async Task<JsonNode> ServicesStatusAsync() => JsonNode.Parse(await http.GetStringAsync("status"))!["services"]!;

        await _env.ApplyYamlAsync<Namespace>("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ha\n");
        await _env.ApplyYamlAsync<Service>("""
            apiVersion: v1
            kind: Service
            metadata:
              name: api
              namespace: ha
              annotations:
                service.cilium.io/global: "true"
            spec:
              ports:
              - port: 443
            """);
        await Eventually.TrueAsync(async () => (await ServicesStatusAsync())["exported"]!.GetValue<int>() == 1, MeshScenario.Timeout, "standby cache holds the service");
        Assert.Null(await _env.ValueAsync(ServiceKey));
        Assert.Null(await _env.ValueAsync("cilium/synced/cluster1/cilium/state/services/v1"));

        leadership.Lead();
        await Eventually.TrueAsync(async () => await _env.ValueAsync(ServiceKey) is not null, MeshScenario.Timeout, "leader writes the warm cache");
        await Eventually.TrueAsync(async () => await _env.ValueAsync("cilium/synced/cluster1/cilium/state/services/v1") is not null, MeshScenario.Timeout, "canary written");
        var written = await _env.ValueAsync(ServiceKey);

        leadership.Lose();
        await Eventually.TrueAsync(async () => !(await ServicesStatusAsync())["writing"]!.GetValue<bool>(), MeshScenario.Timeout, "store stopped");
        await _env.DeleteAsync<Service>("ha", "api");
        await Eventually.TrueAsync(async () => (await ServicesStatusAsync())["exported"]!.GetValue<int>() == 0, MeshScenario.Timeout, "standby saw the deletion");
        Assert.Equal(written, await _env.ValueAsync(ServiceKey));

        leadership.Lead();
        await _env.WaitForValueAsync(ServiceKey, null, "the next term sweeps what is no longer desired");
    }

    private sealed class SwitchableLeadership : ILeadership
    {
        private readonly Lock _gate = new();
        private TaskCompletionSource<CancellationToken> _lead = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private CancellationTokenSource? _term;

        public bool IsLeader
        {
            get
            {
                lock (_gate)
                {
                    return _term is { IsCancellationRequested: false };
                }
            }
        }

        public Task<CancellationToken> WaitForLeadershipAsync(CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                return _lead.Task.WaitAsync(cancellationToken);
            }
        }

        public void Lead()
        {
            lock (_gate)
            {
                _term = new CancellationTokenSource();
                _lead.TrySetResult(_term.Token);
            }
        }

        public void Lose()
        {
            lock (_gate)
            {
                _term?.Cancel();
                _lead = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }
}
