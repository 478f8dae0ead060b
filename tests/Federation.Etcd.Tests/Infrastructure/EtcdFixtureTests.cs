namespace Federation.Etcd.Tests.Infrastructure;

[Collection(EtcdCollection.Name)]
[Trait("Needs", "etcd")]
public sealed class EtcdFixtureTests(EtcdFixture fixture)
{
    [Fact]
    public async Task Shared_server_is_healthy_and_serves_etcdctl()
    {
        var server = fixture.Server;
        var key = $"/fixture/{Guid.NewGuid():N}";

        Assert.Contains("\"health\":true", await server.EtcdctlAsync("endpoint", "health", "--write-out=json"));
        await server.EtcdctlAsync("put", key, "shared");
        Assert.Equal("shared", (await server.EtcdctlAsync("get", key, "--print-value-only")).Trim());
    }
}
