using System.Net;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Informers;
using Federation.Kubernetes.Models;
using Federation.Lab.ApiServer.Hosting;
using Federation.Lab.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;
using KubeClient = Federation.Kubernetes.Client.KubernetesClient;

namespace Federation.Lab.Tests.KubernetesClient;

/// <summary>
/// <see cref="Informer{T}"/> over the real lab API server, through a kubeconfig: across a server restart on the same
/// port, across a compaction while the server was down (410 Gone, re-list), and across watches the server ends.
/// The restarted server is this class's own, on the fixture's etcd; the fixture's server is a second instance over
/// the same etcd through which objects change while the restarted one is down.
/// </summary>
[Collection(LabCollection.Name)]
[Trait("Needs", "etcd")]
public sealed class InformerTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    private readonly LabApiServerFixture _lab;
    private readonly ITestOutputHelper _output;
    private readonly string _directory;
    private readonly string _kubeconfig;
    private readonly RecordingLogger _log;
    private readonly List<KubeClient> _clients = [];
    private LabApiServerHost? _restarting;
    private int _port;

    public InformerTests(LabApiServerFixture lab, ITestOutputHelper output)
    {
        _lab = lab;
        _output = output;
        _directory = Path.Combine(lab.Directory, "informer-" + Guid.NewGuid().ToString("N")[..8]);
        _kubeconfig = Path.Combine(_directory, "kubeconfig");
        _log = new RecordingLogger(output);
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _restarting = await StartServerAsync(port: 0);
        _port = _restarting.BaseUri.Port;

        // "restarting": the server this class stops and starts again on the same port; "other": the fixture's server.
        ClientKubeconfig.Write(_kubeconfig, _lab.Pki.Ca.CertificatePem, _lab.Pki.Admin, ("restarting", _restarting.BaseUri), ("other", _lab.Host.BaseUri));
    }

    public async Task DisposeAsync()
    {
        _log.Close();
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        if (_restarting is not null)
        {
            await _restarting.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Informer_resumes_after_an_API_server_restart_and_reports_each_change_once()
    {
        var ns = await _lab.NewNamespaceAsync("informer");
        var other = Connect("other");
        await CreateAsync(other, ns, "keep", "1");
        await CreateAsync(other, ns, "change", "1");
        await CreateAsync(other, ns, "remove", "1");
        var observer = new RecordingObserver();
        await using var running = new RunningInformer(NewInformer(Connect("restarting"), ns, observer));
        await running.WaitSyncedAsync(Deadline);
        Assert.Equal(["change=1", "keep=1", "remove=1"], running.Cache());

        await StopServerAsync();
        await CreateAsync(other, ns, "added", "1");
        await other.PatchAsync<ConfigMap>(ns, "change", PatchType.Merge, """{"data":{"v":"2"}}""");
        await other.DeleteAsync<ConfigMap>(ns, "remove");
        await RestartServerAsync();

        await Eventually.TrueAsync(
            () => Task.FromResult(running.Cache().SequenceEqual(["added=1", "change=2", "keep=1"])), Deadline, $"the informer's cache to catch up ({running.Informer.GetStatus()})");
        await WaitForSentinelAsync(other, running, observer, ns);

        Assert.Equal(["add change=1", "add keep=1", "add remove=1"], Describe(observer.Changes.Take(3)).Order(StringComparer.Ordinal));
        Assert.Equal(["add added=1", "update change=2", "delete remove=1", "add sentinel=1"], Describe(observer.Changes.Skip(3)));
        var status = running.Informer.GetStatus();
        Assert.True(status.Synced);
        Assert.Equal(0, status.Relists);
        Assert.Equal(4, status.Items);
    }

    [Fact]
    public async Task Informer_relists_when_its_resourceVersion_was_compacted_while_the_server_was_down()
    {
        var ns = await _lab.NewNamespaceAsync("informer");
        var other = Connect("other");
        await CreateAsync(other, ns, "keep", "1");
        await CreateAsync(other, ns, "change", "1");
        await CreateAsync(other, ns, "remove", "1");
        var observer = new RecordingObserver();
        await using var running = new RunningInformer(NewInformer(Connect("restarting"), ns, observer));
        await running.WaitSyncedAsync(Deadline);
        var syncedAt = running.Informer.GetStatus().ResourceVersion;

        await StopServerAsync();
        await CreateAsync(other, ns, "added", "1");
        await other.PatchAsync<ConfigMap>(ns, "change", PatchType.Merge, """{"data":{"v":"2"}}""");
        await other.DeleteAsync<ConfigMap>(ns, "remove");
        var etcd = await _lab.EtcdClient.StatusAsync();
        await _lab.EtcdClient.CompactAsync(etcd.Header.Revision, physical: true);
        _output.WriteLine($"informer synced at {syncedAt}; compacted at {etcd.Header.Revision}");
        await RestartServerAsync();

        await Eventually.TrueAsync(
            () => Task.FromResult(running.Cache().SequenceEqual(["added=1", "change=2", "keep=1"])), Deadline, $"the informer's cache to catch up ({running.Informer.GetStatus()})");
        await WaitForSentinelAsync(other, running, observer, ns);

        Assert.Equal(["add change=1", "add keep=1", "add remove=1"], Describe(observer.Changes.Take(3)).Order(StringComparer.Ordinal));
        var afterRestart = Describe(observer.Changes.Skip(3)).ToArray();
        // A re-list cannot know the order the changes happened in, only what differs; the sentinel comes after it.
        Assert.Equal(["add added=1", "delete remove=1", "update change=2"], afterRestart[..^1].Order(StringComparer.Ordinal));
        Assert.Equal("add sentinel=1", afterRestart[^1]);
        Assert.Single(observer.Changes, c => c.Kind == "delete");
        var status = running.Informer.GetStatus();
        Assert.True(status.Relists >= 1, $"expected a re-list after 410 Gone: {status}");
        Assert.True(_log.Count("Gone") >= 1, "the informer should have logged the expired resource version");
        Assert.Equal(4, status.Items);
    }

    [Fact]
    public async Task Informer_reports_a_delete_made_at_exactly_the_compacted_revision()
    {
        var ns = await _lab.NewNamespaceAsync("informer");
        var other = Connect("other");
        await CreateAsync(other, ns, "keep", "1");
        await CreateAsync(other, ns, "remove", "1");
        var observer = new RecordingObserver();
        await using var running = new RunningInformer(NewInformer(Connect("restarting"), ns, observer));
        await running.WaitSyncedAsync(Deadline);

        // The only write while the server is down is the delete, and the compaction is at its revision: the informer
        // resumes from exactly there, where the deleted object's previous state is already compacted away.
        await StopServerAsync();
        await other.DeleteAsync<ConfigMap>(ns, "remove");
        var etcd = await _lab.EtcdClient.StatusAsync();
        await _lab.EtcdClient.CompactAsync(etcd.Header.Revision, physical: true);
        _output.WriteLine($"informer at {running.Informer.GetStatus().ResourceVersion}; compacted at {etcd.Header.Revision}");
        await RestartServerAsync();

        await Eventually.TrueAsync(
            () => Task.FromResult(running.Cache().SequenceEqual(["keep=1"])), Deadline, $"the informer to drop the deleted object ({running.Informer.GetStatus()})");
        await WaitForSentinelAsync(other, running, observer, ns);

        Assert.Equal(["add keep=1", "add remove=1"], Describe(observer.Changes.Take(2)).Order(StringComparer.Ordinal));
        Assert.Equal(["delete remove=1", "add sentinel=1"], Describe(observer.Changes.Skip(2)));
    }

    [Fact]
    public async Task Informer_resumes_after_the_server_ends_its_watch_without_relisting()
    {
        var ns = await _lab.NewNamespaceAsync("informer");
        var other = Connect("other");
        await CreateAsync(other, ns, "a", "1");
        var observer = new RecordingObserver();
        await using var running = new RunningInformer(NewInformer(other, ns, observer, watchTimeout: TimeSpan.FromSeconds(1)));
        await running.WaitSyncedAsync(Deadline);

        // Each change lands in a later watch than the previous one: the server ends every watch after about a second.
        await WaitForWatchEndAsync();
        await CreateAsync(other, ns, "b", "1");
        await WaitForWatchEndAsync();
        await other.PatchAsync<ConfigMap>(ns, "a", PatchType.Merge, """{"data":{"v":"2"}}""");
        await WaitForWatchEndAsync();
        await other.DeleteAsync<ConfigMap>(ns, "b");

        await Eventually.TrueAsync(() => Task.FromResult(observer.Changes.Count >= 4), Deadline, $"four changes observed ({running.Informer.GetStatus()})");
        await WaitForSentinelAsync(other, running, observer, ns);

        Assert.Equal(["add a=1", "add b=1", "update a=2", "delete b=1", "add sentinel=1"], Describe(observer.Changes));
        Assert.Equal(["a=2", "sentinel=1"], running.Cache());
        var status = running.Informer.GetStatus();
        Assert.Equal(0, status.Relists);
        Assert.Null(status.LastError);
        Assert.True(_log.Count("WatchEnded") >= 3, $"expected at least three ended watches, saw {_log.Count("WatchEnded")}");
    }

    private async Task WaitForWatchEndAsync()
    {
        var seen = _log.Count("WatchEnded");
        await Eventually.TrueAsync(() => Task.FromResult(_log.Count("WatchEnded") > seen), Deadline, "the server to end the informer's watch");
    }

    /// <summary>
    /// Creates one more object and waits until the informer reports it: the watch delivers in order, so any
    /// duplicate of an earlier change would have been reported before this point.
    /// </summary>
    private static async Task WaitForSentinelAsync(KubeClient client, RunningInformer running, RecordingObserver observer, string ns)
    {
        await CreateAsync(client, ns, "sentinel", "1");
        await Eventually.TrueAsync(
            () => Task.FromResult(observer.Changes.Any(c => c.Name == "sentinel")), Deadline, $"the informer to report the sentinel ({running.Informer.GetStatus()})");
    }

    private Informer<ConfigMap> NewInformer(KubeClient client, string ns, RecordingObserver observer, TimeSpan? watchTimeout = null)
    {
        var options = new InformerOptions
        {
            Name = $"{ns}/configmaps",
            Namespace = ns,
            PageSize = 2,
            RetryMinDelay = TimeSpan.FromMilliseconds(100),
            RetryMaxDelay = TimeSpan.FromSeconds(1),
        };
        if (watchTimeout is { } timeout)
        {
            options.WatchTimeout = timeout;
        }

        return new Informer<ConfigMap>(client, options, observer, _log);
    }

    private KubeClient Connect(string context)
    {
        var client = ClientKubeconfig.Connect(_kubeconfig, context);
        _clients.Add(client);
        return client;
    }

    private async Task<LabApiServerHost> StartServerAsync(int port)
    {
        var options = _lab.Options();
        options.Listen = new IPEndPoint(IPAddress.Loopback, port);
        return await LabApiServerHost.StartAsync(options, l => l.SetMinimumLevel(LogLevel.Warning));
    }

    private async Task StopServerAsync()
    {
        var host = _restarting!;
        _restarting = null;
        await host.DisposeAsync();
        using var probe = _lab.CreateClient(_lab.Pki.Admin, new Uri($"https://127.0.0.1:{_port}/"));
        await Assert.ThrowsAsync<HttpRequestException>(() => probe.GetAsync(new Uri("healthz", UriKind.Relative)));
    }

    private async Task RestartServerAsync()
    {
        _restarting = await StartServerAsync(_port);
        Assert.Equal(_port, _restarting.BaseUri.Port);
    }

    private static Task<ConfigMap> CreateAsync(KubeClient client, string ns, string name, string value)
        => client.CreateAsync(new ConfigMap
        {
            Metadata = new ObjectMeta { Name = name, Namespace = ns },
            Data = new Dictionary<string, string> { ["v"] = value },
        });

    private static IEnumerable<string> Describe(IEnumerable<ObservedChange> changes) => changes.Select(c => $"{c.Kind} {c.Name}={c.Value}");
}
