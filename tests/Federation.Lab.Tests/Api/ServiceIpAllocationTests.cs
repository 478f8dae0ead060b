using System.Text.Json.Nodes;
using Federation.Etcd;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Lab.ApiServer.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Lab.Tests.Api;

/// <summary>ClusterIP allocation under concurrent creates, on a store of its own (the shared range is small).</summary>
[Trait("Needs", "etcd")]
public sealed class ServiceIpAllocationTests : IAsyncLifetime
{
    private EtcdServer _etcd = null!;
    private IEtcdClient _client = null!;

    public async Task InitializeAsync()
    {
        _etcd = await EtcdServer.StartAsync();
        _client = EtcdClient.Create(new EtcdClientOptions { Endpoints = [.. _etcd.ClientEndpoints] });
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _etcd.DisposeAsync();
    }

    private ObjectStore Store(string range)
    {
        Assert.True(ServiceIpRange.TryParse(range, out var serviceRange, out var error), error);
        return new ObjectStore(_client, "/registry", serviceRange, TimeProvider.System, NullLogger<ObjectStore>.Instance);
    }

    private static JsonObject Service(string name) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" },
        ["spec"] = new JsonObject { ["ports"] = new JsonArray(new JsonObject { ["port"] = 80 }) },
    };

    [Theory]
    [InlineData("127.96.2.0/24", 60)]
    [InlineData("127.96.3.0/28", 14)]
    public async Task Concurrent_creates_each_get_a_distinct_cluster_ip(string range, int services)
    {
        var store = Store(range);
        await store.EnsureNamespacesAsync(["default"]);

        var results = await Task.WhenAll(Enumerable.Range(0, services).Select(i => Task.Run(() => store.CreateAsync(LabResources.Services, Service($"svc-{i}")))));

        Assert.All(results, r => Assert.True(r.Outcome == StoreOutcome.Created, $"{r.Outcome}: {r.Message}"));
        var ips = results.Select(r => r.Object!["spec"]!["clusterIP"]!.GetValue<string>()).ToList();
        Assert.Equal(services, ips.Distinct().Count());
        Assert.All(ips, ip => Assert.True(ServiceIpRange.TryParseAddress(ip, out var address) && store.ServiceRange.Contains(address), $"{ip} outside {range}"));
    }

    [Fact]
    public async Task A_full_range_is_an_invalid_create_that_names_the_range()
    {
        var store = Store("127.96.4.0/30");
        await store.EnsureNamespacesAsync(["default"]);
        Assert.Equal(StoreOutcome.Created, (await store.CreateAsync(LabResources.Services, Service("a"))).Outcome);
        Assert.Equal(StoreOutcome.Created, (await store.CreateAsync(LabResources.Services, Service("b"))).Outcome);

        var third = await store.CreateAsync(LabResources.Services, Service("c"));

        Assert.Equal(StoreOutcome.Invalid, third.Outcome);
        Assert.Contains("127.96.4.0/30 is full", third.Message);
        Assert.Equal(StoreOutcome.NotFound, (await store.GetAsync(LabResources.Services, "default", "c")).Outcome);
    }
}
