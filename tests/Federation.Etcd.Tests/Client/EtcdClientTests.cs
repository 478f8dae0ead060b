using System.Diagnostics;
using Federation.Etcd.Protocol;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Etcd.Tests.TestSupport;
using Google.Protobuf;

namespace Federation.Etcd.Tests;

[Collection(EtcdCollection.Name)]
[Trait("Needs", "etcd")]
public sealed class EtcdClientTests(EtcdFixture fixture)
{
    private readonly EtcdServer _server = fixture.Server;

    [Fact]
    public async Task Put_then_get_returns_the_value_with_its_revisions()
    {
        await using var client = Clients.For(_server);
        var key = Clients.UniquePrefix("put") + "a";

        var put = await client.PutAsync(key, "one");
        var second = await client.PutAsync(key, "two", prevKv: true);
        var kv = await client.GetAsync(key);

        Assert.NotNull(kv);
        Assert.Equal("two", kv.Value.ToStringUtf8());
        Assert.Equal(2, kv.Version);
        Assert.Equal(put.Header.Revision, kv.CreateRevision);
        Assert.Equal(second.Header.Revision, kv.ModRevision);
        Assert.Equal("one", second.PrevKv.Value.ToStringUtf8());
        Assert.Null(await client.GetAsync(key + "-missing"));
    }

    [Fact]
    public async Task Range_supports_prefix_limit_count_keys_only_and_a_pinned_revision()
    {
        await using var client = Clients.For(_server);
        var prefix = Clients.UniquePrefix("range");
        for (var i = 0; i < 5; i++)
        {
            await client.PutAsync($"{prefix}{i}", $"v{i}");
        }

        var pinned = (await client.GetPrefixAsync(prefix)).Header.Revision;
        await client.PutAsync($"{prefix}0", "changed");
        await client.PutAsync($"{prefix}9", "new");

        var limited = await client.GetPrefixAsync(prefix, limit: 2);
        Assert.Equal(2, limited.Kvs.Count);
        Assert.True(limited.More);
        Assert.Equal(6, limited.Count);

        var keysOnly = await client.GetPrefixAsync(prefix, keysOnly: true);
        Assert.Equal(6, keysOnly.Kvs.Count);
        Assert.All(keysOnly.Kvs, kv => Assert.True(kv.Value.IsEmpty));

        var old = await client.GetPrefixAsync(prefix, revision: pinned);
        Assert.Equal(5, old.Kvs.Count);
        Assert.Equal("v0", old.Kvs[0].Value.ToStringUtf8());

        Assert.Equal(6, await client.CountPrefixAsync(prefix));
    }

    [Fact]
    public async Task Paged_listing_reads_one_consistent_revision()
    {
        await using var client = Clients.For(_server);
        var prefix = Clients.UniquePrefix("paged");
        for (var i = 0; i < 25; i++)
        {
            await client.PutAsync($"{prefix}{i:D3}", "x");
        }

        var pages = 0;
        var keys = new List<string>();
        long revision = 0;
        await foreach (var page in client.ListPrefixPagesAsync(prefix, pageSize: 10))
        {
            if (pages == 0)
            {
                revision = page.Revision;
                // Written after the first page: must not show up in later pages.
                await client.PutAsync($"{prefix}024-late", "x");
            }

            pages++;
            Assert.Equal(revision, page.Revision);
            keys.AddRange(page.Kvs.Select(kv => kv.Key.ToStringUtf8()));
        }

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"{prefix}{i:D3}"), keys);
    }

    [Fact]
    public async Task DeleteRange_removes_a_prefix_and_reports_what_it_removed()
    {
        await using var client = Clients.For(_server);
        var prefix = Clients.UniquePrefix("delete");
        await client.PutAsync(prefix + "a", "1");
        await client.PutAsync(prefix + "b", "2");
        await client.PutAsync(prefix + "c", "3");

        var single = await client.DeleteAsync(prefix + "a", prevKv: true);
        var rest = await client.DeletePrefixAsync(prefix);

        Assert.Equal(1, single.Deleted);
        Assert.Equal("1", single.PrevKvs[0].Value.ToStringUtf8());
        Assert.Equal(2, rest.Deleted);
        Assert.Equal(0, await client.CountPrefixAsync(prefix));
    }

    [Fact]
    public async Task Txn_compares_value_version_mod_and_create_revision()
    {
        await using var client = Clients.For(_server);
        var key = Clients.UniquePrefix("txn") + "k";
        var created = await client.PutAsync(key, "v1");

        async Task<bool> Run(Compare compare)
        {
            var txn = new TxnRequest
            {
                Compare = { compare },
                Success = { new RequestOp { RequestRange = new RangeRequest { Key = ByteString.CopyFromUtf8(key) } } },
                Failure = { new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(key + "-failed"), Value = ByteString.CopyFromUtf8("x") } } },
            };
            var response = await client.TxnAsync(txn);
            if (response.Succeeded)
            {
                Assert.Equal("v1", response.Responses[0].ResponseRange.Kvs[0].Value.ToStringUtf8());
            }

            return response.Succeeded;
        }

        Assert.True(await Run(TxnCompare.Value(key, Compare.Types.CompareResult.Equal, ByteString.CopyFromUtf8("v1"))));
        Assert.False(await Run(TxnCompare.Value(key, Compare.Types.CompareResult.Equal, ByteString.CopyFromUtf8("other"))));
        Assert.True(await Run(TxnCompare.Version(key, Compare.Types.CompareResult.Equal, 1)));
        Assert.True(await Run(TxnCompare.ModRevision(key, Compare.Types.CompareResult.Equal, created.Header.Revision)));
        Assert.True(await Run(TxnCompare.CreateRevision(key, Compare.Types.CompareResult.Less, created.Header.Revision + 1)));
        Assert.False(await Run(TxnCompare.Missing(key)));
        Assert.NotNull(await client.GetAsync(key + "-failed"));
    }

    [Fact]
    public async Task Lease_grant_time_to_live_and_revoke_govern_attached_keys()
    {
        await using var client = Clients.For(_server);
        var key = Clients.UniquePrefix("lease") + "k";
        var grant = await client.LeaseGrantAsync(60);
        await client.PutAsync(key, "v", grant.ID);

        var ttl = await client.LeaseTimeToLiveAsync(grant.ID, keys: true);
        Assert.InRange(ttl.TTL, 1, 60);
        Assert.Equal(60, ttl.GrantedTTL);
        Assert.Equal(key, Assert.Single(ttl.Keys).ToStringUtf8());

        await client.LeaseRevokeAsync(grant.ID);
        Assert.Null(await client.GetAsync(key));
        Assert.Equal(-1, (await client.LeaseTimeToLiveAsync(grant.ID)).TTL);
        var error = await Assert.ThrowsAsync<LeaseNotFoundException>(() => client.LeaseRevokeAsync(grant.ID));
        Assert.Equal(grant.ID, error.LeaseId);
    }

    [Fact]
    public async Task Put_on_an_unknown_lease_is_a_typed_error()
    {
        await using var client = Clients.For(_server);
        await Assert.ThrowsAsync<LeaseNotFoundException>(() => client.PutAsync(Clients.UniquePrefix("nolease") + "k", "v", leaseId: 0x7fff_0000_1234));
    }

    [Fact]
    public async Task Keep_alive_holds_a_short_lease_past_its_ttl_and_stops_on_dispose()
    {
        await using var client = Clients.For(_server);
        var key = Clients.UniquePrefix("keepalive") + "k";
        var keepAlive = await client.GrantAndKeepAliveAsync(TimeSpan.FromSeconds(2));
        await client.PutAsync(key, "v", keepAlive.LeaseId);

        // Outlive the TTL twice over while renewals happen.
        var stopwatch = Stopwatch.StartNew();
        await Eventually.TrueAsync(() => stopwatch.Elapsed > TimeSpan.FromSeconds(5) && keepAlive.Renewals >= 3, TimeSpan.FromSeconds(15), "renewals over 5 s");
        Assert.NotNull(await client.GetAsync(key));
        Assert.False(keepAlive.IsLost);

        await keepAlive.DisposeAsync();
        await Eventually.TrueAsync(async () => await client.GetAsync(key) is null, TimeSpan.FromSeconds(10), "the key to expire with its lease");
    }

    [Fact]
    public async Task Keep_alive_reports_a_revoked_lease_as_lost()
    {
        await using var client = Clients.For(_server);
        var keepAlive = await client.GrantAndKeepAliveAsync(TimeSpan.FromSeconds(30));
        await using var other = Clients.For(_server);
        await other.LeaseRevokeAsync(keepAlive.LeaseId);

        await Eventually.TrueAsync(() => keepAlive.IsLost, TimeSpan.FromSeconds(30), "the keep-alive to notice the revoke");
        Assert.Contains("expired or revoked", keepAlive.LostReason);
    }

    [Fact]
    public async Task Many_watches_share_one_stream_and_each_sees_only_its_keys()
    {
        await using var client = Clients.For(_server);
        var prefix = Clients.UniquePrefix("multiplex");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var start = (await client.PutAsync(prefix + "marker", "m")).Header.Revision + 1;

        var watches = Enumerable.Range(0, 3).Select(i => Collect(client.WatchPrefixAsync($"{prefix}{i}/", start, prevKv: true, cancellationToken: cts.Token), expected: 2)).ToList();
        for (var i = 0; i < 3; i++)
        {
            await client.PutAsync($"{prefix}{i}/k", "first");
            await client.PutAsync($"{prefix}{i}/k", "second");
        }

        var results = await Task.WhenAll(watches);
        for (var i = 0; i < 3; i++)
        {
            Assert.All(results[i], e => Assert.StartsWith($"{prefix}{i}/", e.Kv.Key.ToStringUtf8()));
            Assert.Equal("second", results[i][1].Kv.Value.ToStringUtf8());
            Assert.Equal("first", results[i][1].PrevKv.Value.ToStringUtf8());
        }

        Assert.Equal(1, client.WatchStreamsOpened);
    }

    [Fact]
    public async Task Watch_from_a_past_revision_replays_history_including_deletes()
    {
        await using var client = Clients.For(_server);
        var prefix = Clients.UniquePrefix("history");
        var first = await client.PutAsync(prefix + "a", "1");
        await client.PutAsync(prefix + "b", "2");
        await client.DeleteAsync(prefix + "a");

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var events = await Collect(client.WatchPrefixAsync(prefix, first.Header.Revision, cancellationToken: cts.Token), expected: 3);

        Assert.Equal(
            [(Event.Types.EventType.Put, "a"), (Event.Types.EventType.Put, "b"), (Event.Types.EventType.Delete, "a")],
            events.Select(e => (e.Type, e.Kv.Key.ToStringUtf8()[prefix.Length..])));
    }

    [Fact]
    public async Task Watch_progress_request_reports_the_current_revision()
    {
        await using var client = Clients.For(_server);
        var prefix = Clients.UniquePrefix("progress");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var head = (await client.PutAsync(Clients.UniquePrefix("elsewhere") + "k", "v")).Header.Revision;

        await foreach (var response in client.WatchPrefixAsync(prefix, cancellationToken: cts.Token))
        {
            // The created reply comes first; then ask for progress until one arrives.
            if (response.Events.Count == 0 && response.WatchId == -1)
            {
                Assert.True(response.Header.Revision >= head);
                return;
            }

            Assert.True(client.RequestWatchProgress());
        }
    }

    [Fact]
    public async Task Watch_from_a_compacted_revision_ends_with_the_compact_revision()
    {
        await using var client = Clients.For(_server);
        var prefix = Clients.UniquePrefix("compacted");
        var old = (await client.PutAsync(prefix + "k", "1")).Header.Revision;
        var now = (await client.PutAsync(prefix + "k", "2")).Header.Revision;
        await client.CompactAsync(now);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var error = await Assert.ThrowsAsync<RevisionCompactedException>(async () =>
        {
            await foreach (var unused in client.WatchPrefixAsync(prefix, old, cancellationToken: cts.Token))
            {
            }
        });
        Assert.True(error.CompactRevision >= now);

        var rangeError = await Assert.ThrowsAsync<RevisionCompactedException>(() => client.GetPrefixAsync(prefix, revision: old));
        Assert.Equal(GrpcStatusCode.OutOfRange, rangeError.Status);
    }

    [Fact]
    public async Task Status_and_member_list_describe_the_server()
    {
        await using var client = Clients.For(_server);
        var written = (await client.PutAsync(Clients.UniquePrefix("status") + "k", "v")).Header.Revision;

        var status = await client.StatusAsync();
        var members = await client.MemberListAsync();

        Assert.True(status.Header.Revision >= written);
        Assert.NotEqual(0UL, status.Header.ClusterId);
        Assert.Equal(status.Header.MemberId, status.Leader);
        Assert.StartsWith("3.", status.Version);
        var member = Assert.Single(members.Members);
        Assert.Equal(status.Leader, member.ID);
        Assert.Contains(member.ClientURLs, u => new Uri(u).Port == _server.ClientEndpoints[0].Port);
    }

    [Fact]
    public async Task A_dead_endpoint_is_skipped_for_the_next_one()
    {
        var dead = new Uri($"http://127.0.0.1:{LoopbackPorts.Pick(1)[0]}");
        await using var client = Clients.For([dead, _server.ClientEndpoints[0]]);

        await client.PutAsync(Clients.UniquePrefix("failover") + "k", "v");
        Assert.Equal(_server.ClientEndpoints[0], client.Channel.CurrentEndpoint);
    }

    [Fact]
    public async Task No_reachable_endpoint_is_an_unavailable_error()
    {
        await using var client = Clients.For([new Uri($"http://127.0.0.1:{LoopbackPorts.Pick(1)[0]}"), new Uri($"http://127.0.0.1:{LoopbackPorts.Pick(1)[0]}")]);

        var error = await Assert.ThrowsAsync<EtcdUnavailableException>(() => client.GetAsync("k"));
        Assert.Equal(GrpcStatusCode.Unavailable, error.Status);
    }

    [Fact]
    public async Task Cancellation_is_honoured_and_is_not_reported_as_a_server_error()
    {
        await using var client = Clients.For(_server);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync("k", cancellationToken: cts.Token));
    }

    private static async Task<List<Event>> Collect(IAsyncEnumerable<WatchResponse> watch, int expected)
    {
        var events = new List<Event>();
        await foreach (var response in watch)
        {
            events.AddRange(response.Events);
            if (events.Count >= expected)
            {
                break;
            }
        }

        return events;
    }
}
