using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Federation.Lab.DemoApp.Tests.Infrastructure;

namespace Federation.Lab.DemoApp.Tests;

/// <summary>frontend → productcatalog → catalogdetail as real processes on loopback, and the request client.</summary>
public sealed class DemoAppTests : IAsyncLifetime
{
    private readonly List<DemoServer> _servers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_request_through_the_chain_shows_all_three_services_with_their_versions()
    {
        var (frontend, productcatalog, catalogdetail) = await StartChainAsync("v2");

        var lines = await RequestAsync(frontend.Url, "--count", "3");

        Assert.Equal([1, 2, 3], lines.Select(l => (int)l["seq"]!));
        foreach (var line in lines)
        {
            Assert.Equal(200, (int?)line["status"]);
            Assert.Null(line["error"]);
            Assert.True((double)line["ms"]! > 0);
            var body = line["body"]!;
            Assert.Equal(("frontend", "v1", "c1", "frontend-1"), Identity(body));
            Assert.Equal(("productcatalog", "v1", "c1", "productcatalog-1"), Identity(body["upstream"]!));
            Assert.Equal(("catalogdetail", "v2", "c2", "catalogdetail-1"), Identity(body["upstream"]!["upstream"]!));
            Assert.Null(body["upstream"]!["upstream"]!["upstream"]);
            Assert.Null(body["error"]);
            Assert.Null(body["upstream"]!["error"]);
        }

        // One start line per process, naming role, address and upstream.
        Assert.Contains($"productcatalog v1 listening on {productcatalog.Url.Authority}", productcatalog.Output, StringComparison.Ordinal);
        Assert.Contains($"upstream {catalogdetail.Url}", productcatalog.Output, StringComparison.Ordinal);
        Assert.Contains("upstream none", catalogdetail.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("GET /", frontend.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dead_catalogdetail_gives_502_with_the_error_through_the_chain_and_frontend_stays_up()
    {
        var (frontend, _, catalogdetail) = await StartChainAsync("v1");
        await catalogdetail.KillAsync();

        var line = (await RequestAsync(frontend.Url)).Single();

        Assert.Equal(502, (int?)line["status"]);
        var body = line["body"]!;
        Assert.Equal("frontend", (string?)body["service"]);
        var productcatalog = body["upstream"]!;
        Assert.Equal("productcatalog", (string?)productcatalog["service"]);
        Assert.Null(productcatalog["upstream"]);
        Assert.Equal($"upstream {catalogdetail.Url}: connection refused", (string?)productcatalog["error"]);
        Assert.Contains("answered 502", (string?)body["error"], StringComparison.Ordinal);
        Assert.Contains("connection refused", (string?)body["error"], StringComparison.Ordinal);
        Assert.Contains("connection refused", (string?)line["error"], StringComparison.Ordinal);

        Assert.False(frontend.HasExited);
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(frontend.Url, "healthz"))).StatusCode);
    }

    [Fact]
    public async Task Every_request_and_every_upstream_call_uses_a_new_connection()
    {
        var (frontend, _, catalogdetail) = await StartChainAsync("v1");

        var direct = await RequestAsync(catalogdetail.Url, "--count", "5");
        var ports = direct.Select(l => (string?)l["body"]!["peer"]).ToList();
        Assert.All(ports, p => Assert.StartsWith("127.0.0.1:", p, StringComparison.Ordinal));
        Assert.Equal(5, ports.Distinct().Count());

        // productcatalog's calls to catalogdetail, seen by catalogdetail.
        var chained = await RequestAsync(frontend.Url, "--count", "5", "--interval", "10");
        Assert.Equal(5, chained.Select(l => (string?)l["body"]!["upstream"]!["upstream"]!["peer"]).Distinct().Count());
        Assert.Equal(5, chained.Select(l => (string?)l["body"]!["upstream"]!["peer"]).Distinct().Count());
    }

    [Fact]
    public async Task Connections_come_from_the_bind_address_and_a_server_calls_its_upstream_from_its_own_address()
    {
        // A lab pod's only address is its pod IP; WireGuard drops packets whose source is not a pod CIDR it knows.
        await using var catalogdetail = await DemoServer.StartAsync("catalogdetail", "c1", "cd-1", "v1");
        await using var productcatalog = await DemoServer.StartAsync("productcatalog", "c1", "pc-1", upstream: catalogdetail.Url, address: "127.0.0.3");

        var lines = await RequestAsync(productcatalog.Url, "--count", "2", "--bind", "127.0.0.2");
        Assert.All(lines, l => Assert.StartsWith("127.0.0.2:", (string?)l["body"]!["peer"], StringComparison.Ordinal));
        Assert.All(lines, l => Assert.StartsWith("127.0.0.3:", (string?)l["body"]!["upstream"]!["peer"], StringComparison.Ordinal));
    }

    [Fact]
    public async Task Timeouts_and_refused_connections_are_reported_per_request_and_exit_zero()
    {
        // Accepts connections, never answers.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var silentUrl = new Uri($"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/");

        var (exit, stdout, _) = await DemoAppProcess.RunAsync("request", "--url", silentUrl.ToString(), "--count", "2", "--timeout", "300");
        Assert.Equal(0, exit);
        var lines = Parse(stdout);
        Assert.Equal(2, lines.Count);
        Assert.All(lines, l =>
        {
            Assert.Null(l["status"]);
            Assert.Null(l["body"]);
            Assert.Equal("timeout after 300 ms", (string?)l["error"]);
        });

        var closed = new Uri($"http://127.0.0.1:{Etcd.Tests.Infrastructure.LoopbackPorts.Pick(1)[0]}/");
        (exit, stdout, _) = await DemoAppProcess.RunAsync("request", "--url", closed.ToString());
        Assert.Equal(0, exit);
        Assert.Equal("connection refused", (string?)Parse(stdout).Single()["error"]);

        // A server whose upstream never answers gives up after 2 s and says so.
        var productcatalog = await StartAsync("productcatalog", "c1", upstream: silentUrl);
        var line = (await RequestAsync(productcatalog.Url, "--timeout", "10000")).Single();
        Assert.Equal(502, (int?)line["status"]);
        Assert.Equal($"upstream {silentUrl}: timeout after 2000 ms", (string?)line["body"]!["error"]);
        Assert.InRange((double)line["ms"]!, 1900, 9000);
    }

    [Theory]
    [InlineData("--count", "request --url http://127.0.0.1:1/ --count x")]
    [InlineData("--count", "request --url http://127.0.0.1:1/ --count 0")]
    [InlineData("--timeout", "request --url http://127.0.0.1:1/ --timeout")]
    [InlineData("--bind", "request --url http://127.0.0.1:1/ --bind not-an-ip")]
    [InlineData("--url", "request --count 2")]
    [InlineData("--url", "request --url ftp://127.0.0.1/")]
    [InlineData("--bogus", "request --url http://127.0.0.1:1/ --bogus 1")]
    [InlineData("--role", "serve --role shop --listen 127.0.0.1:1 --cluster c --pod p")]
    [InlineData("--listen", "serve --role frontend --listen localhost --cluster c --pod p")]
    [InlineData("--pod", "serve --role frontend --listen 127.0.0.1:1 --cluster c")]
    [InlineData("--upstream", "serve --role frontend --listen 127.0.0.1:1 --cluster c --pod p --upstream nowhere")]
    [InlineData("frobnicate", "frobnicate")]
    public async Task Bad_flags_exit_2_with_a_line_naming_the_flag_and_the_usage(string flag, string commandLine)
    {
        var (exit, stdout, stderr) = await DemoAppProcess.RunAsync(commandLine.Split(' '));

        Assert.Equal(2, exit);
        Assert.Empty(stdout);
        var first = stderr.Split('\n')[0];
        Assert.StartsWith("lab-demo-app: ", first, StringComparison.Ordinal);
        Assert.Contains(flag, first, StringComparison.Ordinal);
        Assert.Contains("usage:", stderr, StringComparison.Ordinal);
    }

    private async Task<(DemoServer Frontend, DemoServer ProductCatalog, DemoServer CatalogDetail)> StartChainAsync(string detailVersion)
    {
        var catalogdetail = await StartAsync("catalogdetail", "c2", detailVersion);
        var productcatalog = await StartAsync("productcatalog", "c1", upstream: catalogdetail.Url);
        var frontend = await StartAsync("frontend", "c1", upstream: productcatalog.Url);
        return (frontend, productcatalog, catalogdetail);
    }

    private async Task<DemoServer> StartAsync(string role, string cluster, string? version = null, Uri? upstream = null)
    {
        var server = await DemoServer.StartAsync(role, cluster, $"{role}-1", version, upstream);
        _servers.Add(server);
        return server;
    }

    private static async Task<List<JsonNode>> RequestAsync(Uri url, params string[] flags)
    {
        // A generous client timeout unless the test sets one: on a busy machine a chain of three fresh processes can take
        // longer than the 2 s default to answer its first request.
        string[] timeout = flags.Contains("--timeout") ? [] : ["--timeout", "15000"];
        var (exit, stdout, stderr) = await DemoAppProcess.RunAsync(["request", "--url", url.ToString(), .. flags, .. timeout]);
        Assert.True(exit == 0, $"request exited {exit}: {stderr}");
        return Parse(stdout);
    }

    private static List<JsonNode> Parse(string stdout)
        => [.. stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!)];

    private static (string?, string?, string?, string?) Identity(JsonNode node)
        => ((string?)node["service"], (string?)node["version"], (string?)node["cluster"], (string?)node["pod"]);
}
