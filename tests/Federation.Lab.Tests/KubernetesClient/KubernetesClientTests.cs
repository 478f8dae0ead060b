using System.Globalization;
using System.Net;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Models;
using Federation.Lab.ApiServer.Storage;
using Federation.Lab.Tests.Infrastructure;
using KubeClient = Federation.Kubernetes.Client.KubernetesClient;

namespace Federation.Lab.Tests.KubernetesClient;

/// <summary>
/// The Kubernetes client against the real lab API server: mutual TLS with the lab CA and a client certificate,
/// configured from a kubeconfig file written by <see cref="KubeconfigWriter"/>.
/// </summary>
[Collection(LabCollection.Name)]
[Trait("Needs", "etcd")]
public sealed class KubernetesClientTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly LabApiServerFixture _lab;
    private readonly string _directory;
    private readonly string _kubeconfig;
    private readonly KubeClient _client;

    public KubernetesClientTests(LabApiServerFixture lab)
    {
        _lab = lab;
        _directory = Path.Combine(lab.Directory, "client-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_directory);
        _kubeconfig = Path.Combine(_directory, "kubeconfig");
        ClientKubeconfig.Write(_kubeconfig, lab.Pki.Ca.CertificatePem, lab.Pki.Admin, ("lab", lab.Host.BaseUri));
        _client = ClientKubeconfig.Connect(_kubeconfig, "lab");
    }

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task The_kubeconfig_selects_the_lab_server_and_its_namespace()
    {
        var configuration = _client.Configuration;

        Assert.Equal(_lab.Host.BaseUri.GetLeftPart(UriPartial.Authority), configuration.Server.GetLeftPart(UriPartial.Authority));
        Assert.Equal("lab", configuration.ContextName);
        Assert.Equal("default", configuration.Namespace);
        Assert.NotNull(configuration.ClientCertificateData);
        Assert.False(configuration.SkipTlsVerify);
        var kubeSystem = await _client.GetAsync<Namespace>(null, "kube-system");
        Assert.Equal("Active", kubeSystem.Status?.Phase);
    }

    [Fact]
    public async Task A_kubeconfig_that_trusts_another_CA_fails_the_TLS_handshake()
    {
        using var otherCa = Federation.Lab.ApiServer.Pki.LabCertificateAuthority.Create("another-ca");
        var path = Path.Combine(_directory, "other-ca.kubeconfig");
        ClientKubeconfig.Write(path, otherCa.CertificatePem, _lab.Pki.Admin, ("lab", _lab.Host.BaseUri));
        var configuration = KubernetesClientConfiguration.FromKubeconfig("lab", path) with { Retry = new KubernetesRetryOptions { MaxRetryAttempts = 0 } };
        using var client = KubeClient.Create(configuration);

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync<Namespace>(null, "default"));

        Assert.Equal(HttpRequestError.SecureConnectionError, error.HttpRequestError);
    }

    [Fact]
    public async Task Create_returns_the_stored_object_and_get_reads_it_back()
    {
        var ns = await _lab.NewNamespaceAsync("client");

        var created = await _client.CreateAsync(ConfigMap(ns, "settings", new() { ["mode"] = "fast" }, new() { ["app"] = "web" }));
        var read = await _client.GetAsync<ConfigMap>(ns, "settings");

        Assert.Equal("settings", created.Metadata.Name);
        Assert.Equal(ns, created.Metadata.Namespace);
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.False(string.IsNullOrEmpty(created.Metadata.ResourceVersion));
        Assert.NotNull(created.Metadata.CreationTimestamp);
        Assert.Equal(created.Metadata.Uid, read.Metadata.Uid);
        Assert.Equal(created.Metadata.ResourceVersion, read.Metadata.ResourceVersion);
        Assert.Equal("fast", read.Data!["mode"]);
        Assert.Equal("web", read.Metadata.Labels!["app"]);
        Assert.Equal("ConfigMap", read.Kind);
        Assert.Equal("v1", read.ApiVersion);
    }

    [Fact]
    public async Task Creating_an_existing_name_throws_AlreadyExists_and_keeps_the_first_object()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        var first = await _client.CreateAsync(ConfigMap(ns, "twice", new() { ["v"] = "1" }));

        var error = await Assert.ThrowsAsync<KubernetesAlreadyExistsException>(() => _client.CreateAsync(ConfigMap(ns, "twice", new() { ["v"] = "2" })));

        Assert.Equal(HttpStatusCode.Conflict, error.StatusCode);
        Assert.Equal("AlreadyExists", error.Reason);
        Assert.True(error.IsAlreadyExists);
        Assert.Contains("configmaps \"twice\" already exists", error.Message, StringComparison.Ordinal);
        var kept = await _client.GetAsync<ConfigMap>(ns, "twice");
        Assert.Equal(first.Metadata.ResourceVersion, kept.Metadata.ResourceVersion);
        Assert.Equal("1", kept.Data!["v"]);
    }

    [Fact]
    public async Task Get_of_a_missing_object_throws_NotFound()
    {
        var ns = await _lab.NewNamespaceAsync("client");

        var error = await Assert.ThrowsAsync<KubernetesNotFoundException>(() => _client.GetAsync<ConfigMap>(ns, "absent"));

        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
        Assert.Equal("NotFound", error.Reason);
        Assert.Equal("absent", error.Status.Details?.Name);
    }

    [Fact]
    public async Task Paged_lists_follow_continue_through_one_snapshot()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        for (var i = 0; i < 5; i++)
        {
            await _client.CreateAsync(ConfigMap(ns, $"cm-{i}", new() { ["i"] = i.ToString(CultureInfo.InvariantCulture) }));
        }

        var pages = new List<KubernetesList<ConfigMap>>();
        await foreach (var page in _client.ListPagesAsync<ConfigMap>(ns, new ListOptions { Limit = 2 }))
        {
            pages.Add(page);
            if (pages.Count == 1)
            {
                // Written after the snapshot of the first page: later pages must not show it.
                await _client.CreateAsync(ConfigMap(ns, "cm-3-late", new() { ["i"] = "late" }));
            }
        }

        Assert.Equal([2, 2, 1], pages.Select(p => p.Items.Count));
        Assert.Equal(["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"], pages.SelectMany(p => p.Items).Select(i => i.Metadata.Name!));
        Assert.Single(pages.Select(p => p.Metadata.ResourceVersion).Distinct());
        Assert.NotNull(pages[0].Metadata.Continue);
        Assert.Null(pages[^1].Metadata.Continue);
        Assert.Equal("ConfigMapList", pages[0].Kind);

        var all = await _client.ListAllAsync<ConfigMap>(ns, new ListOptions { Limit = 2 });

        Assert.Equal(["cm-0", "cm-1", "cm-2", "cm-3", "cm-3-late", "cm-4"], all.Items.Select(i => i.Metadata.Name!));
        Assert.Null(all.Metadata.Continue);
        Assert.True(long.Parse(all.Metadata.ResourceVersion!, CultureInfo.InvariantCulture) > long.Parse(pages[0].Metadata.ResourceVersion!, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Label_and_field_selectors_filter_lists()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        var other = await _lab.NewNamespaceAsync("client");
        var run = Guid.NewGuid().ToString("N")[..8];
        await _client.CreateAsync(ConfigMap(ns, "a", labels: new() { ["app"] = "web", ["tier"] = "front", ["run"] = run }));
        await _client.CreateAsync(ConfigMap(ns, "b", labels: new() { ["app"] = "web", ["tier"] = "back", ["run"] = run }));
        await _client.CreateAsync(ConfigMap(ns, "c", labels: new() { ["app"] = "db", ["run"] = run }));
        await _client.CreateAsync(ConfigMap(other, "d", labels: new() { ["app"] = "web", ["tier"] = "front", ["run"] = run }));

        var web = await _client.ListAsync<ConfigMap>(ns, new ListOptions { LabelSelector = "app=web" });
        var frontOrNone = await _client.ListAsync<ConfigMap>(ns, new ListOptions { LabelSelector = "app in (web,db),tier notin (back)" });
        var byName = await _client.ListAsync<ConfigMap>(ns, new ListOptions { FieldSelector = "metadata.name=b" });
        var notB = await _client.ListAsync<ConfigMap>(ns, new ListOptions { FieldSelector = "metadata.name!=b", LabelSelector = "app=web" });
        var everywhere = await _client.ListAllAsync<ConfigMap>(null, new ListOptions { LabelSelector = $"run={run},tier=front", Limit = 1 });

        Assert.Equal(["a", "b"], Names(web.Items));
        Assert.Equal(["a", "c"], Names(frontOrNone.Items));
        Assert.Equal(["b"], Names(byName.Items));
        Assert.Equal(["a"], Names(notB.Items));
        Assert.Equal(new[] { $"{ns}/a", $"{other}/d" }.Order(StringComparer.Ordinal), everywhere.Items.Select(i => $"{i.Metadata.Namespace}/{i.Metadata.Name}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Field_selectors_filter_pods_by_node()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        await _client.CreateAsync(Pod(ns, "on-n1", nodeName: "n1"));
        await _client.CreateAsync(Pod(ns, "on-n2", nodeName: "n2"));

        var onN1 = await _client.ListAsync<Pod>(ns, new ListOptions { FieldSelector = "spec.nodeName=n1" });

        Assert.Equal(["on-n1"], Names(onN1.Items));
    }

    [Fact]
    public async Task Update_replaces_the_object_and_a_stale_resourceVersion_throws_Conflict()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        var created = await _client.CreateAsync(ConfigMap(ns, "config", new() { ["v"] = "1" }));

        var updated = await _client.UpdateAsync(created with { Data = new Dictionary<string, string> { ["v"] = "2" } });

        Assert.Equal("2", updated.Data!["v"]);
        Assert.Equal(created.Metadata.Uid, updated.Metadata.Uid);
        Assert.NotEqual(created.Metadata.ResourceVersion, updated.Metadata.ResourceVersion);
        Assert.Equal("2", (await _client.GetAsync<ConfigMap>(ns, "config")).Data!["v"]);

        var error = await Assert.ThrowsAsync<KubernetesConflictException>(() => _client.UpdateAsync(created with { Data = new Dictionary<string, string> { ["v"] = "stale" } }));

        Assert.IsNotType<KubernetesAlreadyExistsException>(error);
        Assert.False(error.IsAlreadyExists);
        Assert.Equal("Conflict", error.Reason);
        Assert.Equal(HttpStatusCode.Conflict, error.StatusCode);
        Assert.Contains("the object has been modified", error.Message, StringComparison.Ordinal);
        var current = await _client.GetAsync<ConfigMap>(ns, "config");
        Assert.Equal("2", current.Data!["v"]);
        Assert.Equal(updated.Metadata.ResourceVersion, current.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Update_keeps_fields_the_client_does_not_model()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        var created = await _lab.Http.PostJsonAsync($"api/v1/namespaces/{ns}/configmaps", System.Text.Json.Nodes.JsonNode.Parse("""
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"extra"},"data":{"v":"1"},"futureField":{"kept":true}}
            """)!);
        Assert.Equal(201, created.Code);

        var read = await _client.GetAsync<ConfigMap>(ns, "extra");
        await _client.UpdateAsync(read with { Data = new Dictionary<string, string> { ["v"] = "2" } });

        var stored = (await _lab.Store.GetAsync(LabResources.ConfigMaps, ns, "extra")).Object!;
        Assert.Equal("2", stored["data"]!["v"]!.ToString());
        Assert.True((bool)stored["futureField"]!["kept"]!);
    }

    [Fact]
    public async Task Delete_removes_the_object_and_deleting_again_throws_NotFound()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        await _client.CreateAsync(ConfigMap(ns, "doomed"));

        await _client.DeleteAsync<ConfigMap>(ns, "doomed");

        await Assert.ThrowsAsync<KubernetesNotFoundException>(() => _client.GetAsync<ConfigMap>(ns, "doomed"));
        var again = await Assert.ThrowsAsync<KubernetesNotFoundException>(() => _client.DeleteAsync<ConfigMap>(ns, "doomed"));
        Assert.Equal("NotFound", again.Reason);
        Assert.Contains("\"doomed\" not found", again.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Merge_patch_sets_and_removes_keys()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        var created = await _client.CreateAsync(ConfigMap(ns, "merge", new() { ["a"] = "1", ["b"] = "1" }));

        var patched = await _client.PatchAsync<ConfigMap>(ns, "merge", PatchType.Merge, """{"metadata":{"labels":{"patched":"yes"}},"data":{"a":null,"c":"3"}}""");

        Assert.Equal(new Dictionary<string, string> { ["b"] = "1", ["c"] = "3" }, patched.Data);
        Assert.Equal("yes", patched.Metadata.Labels!["patched"]);
        Assert.NotEqual(created.Metadata.ResourceVersion, patched.Metadata.ResourceVersion);
        Assert.Equal(patched.Metadata.ResourceVersion, (await _client.GetAsync<ConfigMap>(ns, "merge")).Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Strategic_merge_patch_adds_an_annotation_and_a_container_port_keeping_the_rest()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        await _client.CreateAsync(Pod(ns, "web"));

        var patched = await _client.PatchAsync<Pod>(ns, "web", PatchType.StrategicMerge, """
            {"metadata":{"annotations":{"example.com/note":"patched"}},
             "spec":{"containers":[{"name":"web","ports":[{"name":"metrics","containerPort":9090,"protocol":"TCP"}]}]}}
            """);

        Assert.Equal("patched", patched.Metadata.Annotations!["example.com/note"]);
        var container = Assert.Single(patched.Spec!.Containers);
        // A merge patch would have replaced the list: the image and the first port survive only because lists merged by key.
        Assert.Equal("nginx:1.27", container.Image);
        Assert.Equal([80, 9090], container.Ports!.Select(p => p.ContainerPort).Order());
        Assert.Equal("metrics", container.Ports!.Single(p => p.ContainerPort == 9090).Name);
        var read = await _client.GetAsync<Pod>(ns, "web");
        Assert.Equal(2, read.Spec!.Containers[0].Ports!.Count);
    }

    [Fact]
    public async Task Json_patch_applies_operations_and_a_failed_test_leaves_the_object_unchanged()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        await _client.CreateAsync(ConfigMap(ns, "json", new() { ["a"] = "1" }));

        var patched = await _client.PatchAsync<ConfigMap>(ns, "json", PatchType.Json, """
            [{"op":"test","path":"/data/a","value":"1"},{"op":"add","path":"/data/b","value":"2"},{"op":"remove","path":"/data/a"}]
            """);

        Assert.Equal(new Dictionary<string, string> { ["b"] = "2" }, patched.Data);

        var error = await Assert.ThrowsAsync<KubernetesInvalidException>(() => _client.PatchAsync<ConfigMap>(ns, "json", PatchType.Json, """
            [{"op":"test","path":"/data/b","value":"wrong"},{"op":"add","path":"/data/c","value":"3"}]
            """));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, error.StatusCode);
        var unchanged = await _client.GetAsync<ConfigMap>(ns, "json");
        Assert.Equal(patched.Metadata.ResourceVersion, unchanged.Metadata.ResourceVersion);
        Assert.Equal(new Dictionary<string, string> { ["b"] = "2" }, unchanged.Data);
    }

    [Fact]
    public async Task Watch_from_a_resourceVersion_streams_added_modified_and_deleted_in_order()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        var start = (await _client.ListAsync<ConfigMap>(ns)).Metadata.ResourceVersion;
        await _client.CreateAsync(ConfigMap(ns, "watched", new() { ["v"] = "1" }));
        using var deadline = new CancellationTokenSource(Deadline);

        var events = new List<WatchEvent<ConfigMap>>();
        await foreach (var ev in _client.WatchAsync<ConfigMap>(ns, new WatchOptions { ResourceVersion = start }, deadline.Token))
        {
            events.Add(ev);
            switch (ev.Type)
            {
                // Each change is made only after the previous event arrived: the stream is live, not a replay.
                case WatchEventType.Added:
                    await _client.PatchAsync<ConfigMap>(ns, "watched", PatchType.Merge, """{"data":{"v":"2"}}""", deadline.Token);
                    break;
                case WatchEventType.Modified:
                    await _client.DeleteAsync<ConfigMap>(ns, "watched", deadline.Token);
                    break;
            }

            if (ev.Type == WatchEventType.Deleted)
            {
                break;
            }
        }

        Assert.Equal([WatchEventType.Added, WatchEventType.Modified, WatchEventType.Deleted], events.Select(e => e.Type));
        Assert.All(events, e => Assert.Equal("watched", e.Object!.Metadata.Name));
        Assert.Equal(["1", "2", "2"], events.Select(e => e.Object!.Data!["v"]));
        var versions = events.Select(e => long.Parse(e.Object!.Metadata.ResourceVersion!, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(versions.Order(), versions);
        Assert.Equal(versions.Count, versions.Distinct().Count());
        Assert.True(versions[0] > long.Parse(start!, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Watch_with_a_server_timeout_ends_normally()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        var start = (await _client.ListAsync<ConfigMap>(ns)).Metadata.ResourceVersion;
        using var deadline = new CancellationTokenSource(Deadline);

        var events = new List<WatchEvent<ConfigMap>>();
        await foreach (var ev in _client.WatchAsync<ConfigMap>(ns, new WatchOptions { ResourceVersion = start, TimeoutSeconds = 1 }, deadline.Token))
        {
            events.Add(ev);
        }

        Assert.False(deadline.IsCancellationRequested);
        Assert.Empty(events);
    }

    [Fact]
    public async Task Watch_from_a_compacted_resourceVersion_throws_Gone()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        var created = await _client.CreateAsync(ConfigMap(ns, "old", new() { ["v"] = "1" }));
        await _client.PatchAsync<ConfigMap>(ns, "old", PatchType.Merge, """{"data":{"v":"2"}}""");
        await _client.PatchAsync<ConfigMap>(ns, "old", PatchType.Merge, """{"data":{"v":"3"}}""");
        var status = await _lab.EtcdClient.StatusAsync();
        await _lab.EtcdClient.CompactAsync(status.Header.Revision, physical: true);
        using var deadline = new CancellationTokenSource(Deadline);

        var error = await Assert.ThrowsAsync<KubernetesGoneException>(async () =>
        {
            await foreach (var ev in _client.WatchAsync<ConfigMap>(ns, new WatchOptions { ResourceVersion = created.Metadata.ResourceVersion }, deadline.Token))
            {
                Assert.Fail($"no event expected before the error, got {ev.Type}");
            }
        });

        Assert.Equal(HttpStatusCode.Gone, error.StatusCode);
        Assert.Equal("Expired", error.Reason);
    }

    [Fact]
    public async Task An_invalid_name_throws_Invalid_with_the_servers_message()
    {
        var ns = await _lab.NewNamespaceAsync("client");

        var error = await Assert.ThrowsAsync<KubernetesInvalidException>(() => _client.CreateAsync(ConfigMap(ns, "Not_A_Valid_Name")));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, error.StatusCode);
        Assert.Equal("Invalid", error.Reason);
        Assert.StartsWith("ConfigMap \"Not_A_Valid_Name\" is invalid: metadata.name: Invalid value: \"Not_A_Valid_Name\": a lowercase RFC 1123 subdomain", error.Status.Message, StringComparison.Ordinal);
        Assert.Contains(error.Status.Message!, error.Message, StringComparison.Ordinal);
        var cause = Assert.Single(error.Status.Details!.Causes!);
        Assert.Equal("metadata.name", cause.Field);
        Assert.Equal("FieldValueInvalid", cause.Reason);
        Assert.Equal("Not_A_Valid_Name", error.Status.Details.Name);
        Assert.Equal("ConfigMap", error.Status.Details.Kind);
        await Assert.ThrowsAsync<KubernetesNotFoundException>(() => _client.GetAsync<ConfigMap>(ns, "Not_A_Valid_Name"));
    }

    [Fact]
    public async Task Secret_binary_data_round_trips_byte_for_byte()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        var everyByte = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var key = new byte[] { 0x00, 0xFF, 0x0A, 0x0D, 0x22, 0x5C };

        var created = await _client.CreateAsync(new Secret
        {
            Metadata = new ObjectMeta { Name = "tls", Namespace = ns },
            Type = "Opaque",
            Data = new Dictionary<string, byte[]> { ["every-byte"] = everyByte, ["key.bin"] = key, ["empty"] = [] },
        });
        var read = await _client.GetAsync<Secret>(ns, "tls");

        Assert.Equal(everyByte, created.Data!["every-byte"]);
        Assert.Equal(everyByte, read.Data!["every-byte"]);
        Assert.Equal(key, read.Data["key.bin"]);
        Assert.Empty(read.Data["empty"]);
        Assert.Equal("Opaque", read.Type);
        var stored = (await _lab.Store.GetAsync(LabResources.Secrets, ns, "tls")).Object!;
        Assert.Equal(Convert.ToBase64String(everyByte), stored["data"]!["every-byte"]!.ToString());
        var listed = await _client.ListAsync<Secret>(ns);
        Assert.Equal(key, Assert.Single(listed.Items).Data!["key.bin"]);
    }

    [Fact]
    public async Task ConfigMap_text_and_binary_data_round_trip()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        var binary = new byte[] { 0xDE, 0xAD, 0xBE, 0xEF, 0x00 };

        await _client.CreateAsync(new ConfigMap
        {
            Metadata = new ObjectMeta { Name = "mixed", Namespace = ns },
            Data = new Dictionary<string, string> { ["greeting"] = "héllo\nwörld \"quoted\"", ["empty"] = "" },
            BinaryData = new Dictionary<string, byte[]> { ["blob"] = binary },
        });
        var read = await _client.GetAsync<ConfigMap>(ns, "mixed");

        Assert.Equal("héllo\nwörld \"quoted\"", read.Data!["greeting"]);
        Assert.Equal("", read.Data["empty"]);
        Assert.Equal(binary, read.BinaryData!["blob"]);
        var stored = (await _lab.Store.GetAsync(LabResources.ConfigMaps, ns, "mixed")).Object!;
        Assert.Equal(Convert.ToBase64String(binary), stored["binaryData"]!["blob"]!.ToString());
    }

    [Fact]
    public async Task Lease_renewTime_round_trips_as_MicroTime()
    {
        var ns = await _lab.NewNamespaceAsync("client");
        var acquired = new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.Zero).AddTicks(1_234_560);
        var renewed = acquired.AddSeconds(7).AddTicks(987_650);

        var created = await _client.CreateAsync(new Lease
        {
            Metadata = new ObjectMeta { Name = "leader", Namespace = ns },
            Spec = new LeaseSpec { HolderIdentity = "node-a", LeaseDurationSeconds = 15, AcquireTime = acquired, RenewTime = acquired, LeaseTransitions = 0 },
        });
        var renewedLease = await _client.UpdateAsync(created with { Spec = created.Spec! with { RenewTime = renewed } });
        var read = await _client.GetAsync<Lease>(ns, "leader");

        Assert.Equal(acquired, read.Spec!.AcquireTime);
        Assert.Equal(renewed, read.Spec.RenewTime);
        Assert.Equal(renewedLease.Metadata.ResourceVersion, read.Metadata.ResourceVersion);
        Assert.Equal("node-a", read.Spec.HolderIdentity);
        Assert.Equal(15, read.Spec.LeaseDurationSeconds);
        Assert.Equal("coordination.k8s.io/v1", read.ApiVersion);
        var stored = (await _lab.Store.GetAsync(LabResources.Leases, ns, "leader")).Object!;
        Assert.Equal("2024-05-01T10:00:07.222221Z", stored["spec"]!["renewTime"]!.ToString());
        Assert.Equal("2024-05-01T10:00:00.123456Z", stored["spec"]!["acquireTime"]!.ToString());
    }

    [Fact]
    public async Task Nodes_are_cluster_scoped()
    {
        var name = "node-" + Guid.NewGuid().ToString("N")[..8];
        var run = Guid.NewGuid().ToString("N")[..8];

        var created = await _client.CreateAsync(new Node
        {
            Metadata = new ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["run"] = run } },
            Spec = new NodeSpec { PodCIDR = "10.244.1.0/24", PodCIDRs = ["10.244.1.0/24"] },
        });
        try
        {
            var read = await _client.GetAsync<Node>(null, name);
            var listed = await _client.ListAsync<Node>(null, new ListOptions { LabelSelector = $"run={run}" });
            var patched = await _client.PatchAsync<Node>(null, name, PatchType.Merge, """{"spec":{"unschedulable":true}}""");

            Assert.Null(created.Metadata.Namespace);
            Assert.Equal(created.Metadata.Uid, read.Metadata.Uid);
            Assert.Equal("10.244.1.0/24", read.Spec!.PodCIDR);
            Assert.Equal(["10.244.1.0/24"], read.Spec.PodCIDRs!);
            Assert.Equal([name], Names(listed.Items));
            Assert.True(patched.Spec!.Unschedulable);
            Assert.Equal("10.244.1.0/24", patched.Spec.PodCIDR);
            Assert.NotNull((await _lab.Store.GetAsync(LabResources.Nodes, null, name)).Object);
        }
        finally
        {
            await _client.DeleteAsync<Node>(null, name);
        }

        await Assert.ThrowsAsync<KubernetesNotFoundException>(() => _client.GetAsync<Node>(null, name));
    }

    private static ConfigMap ConfigMap(string ns, string name, Dictionary<string, string>? data = null, Dictionary<string, string>? labels = null) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = ns, Labels = labels },
        Data = data ?? new Dictionary<string, string> { ["k"] = "v" },
    };

    private static Pod Pod(string ns, string name, string? nodeName = null) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = ns, Labels = new Dictionary<string, string> { ["app"] = name } },
        Spec = new PodSpec
        {
            NodeName = nodeName,
            Containers = [new Container { Name = "web", Image = "nginx:1.27", Ports = [new ContainerPortSpec { Name = "http", ContainerPort = 80, Protocol = "TCP" }] }],
        },
    };

    private static List<string> Names<T>(IEnumerable<T> items)
        where T : IKubernetesObject
        => [.. items.Select(i => i.Metadata.Name!)];
}
