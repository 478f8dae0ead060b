using Federation.Kubernetes.Client;
using Federation.Kubernetes.Models;

namespace Federation.Kubernetes.Tests;

public sealed class RequestPathsTests
{
    [Fact]
    public void Core_namespaced_object_path()
        => Assert.Equal("/api/v1/namespaces/demo/services/web", RequestPaths.ForResource(Service.Resource, "demo", "web"));

    [Fact]
    public void Grouped_kind_across_all_namespaces_has_no_namespace_segment()
        => Assert.Equal("/apis/discovery.k8s.io/v1/endpointslices", RequestPaths.ForResource(EndpointSlice.Resource, null, null));

    [Fact]
    public void Cluster_scoped_kind_ignores_a_namespace()
        => Assert.Equal("/api/v1/nodes/n1", RequestPaths.ForResource(Node.Resource, "demo", "n1"));

    [Fact]
    public void List_query_escapes_selectors_and_skips_empty_options()
    {
        var query = RequestPaths.Query(new ListOptions { LabelSelector = "app=web,tier in (a,b)", FieldSelector = "spec.nodeName=n1", Limit = 500, Continue = "abc/+=" });

        Assert.Equal("?labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29&fieldSelector=spec.nodeName%3Dn1&limit=500&continue=abc%2F%2B%3D", query);
        Assert.Equal(string.Empty, RequestPaths.Query((ListOptions?)null));
        Assert.Equal(string.Empty, RequestPaths.Query(new ListOptions()));
    }

    [Fact]
    public void Watch_query_has_watch_resource_version_bookmarks_and_timeout()
    {
        var query = RequestPaths.Query(new WatchOptions { ResourceVersion = "123", AllowBookmarks = true, LabelSelector = "!canary", TimeoutSeconds = 300 });

        Assert.Equal("?watch=true&resourceVersion=123&allowWatchBookmarks=true&labelSelector=%21canary&timeoutSeconds=300", query);
        Assert.Equal("?watch=true", RequestPaths.Query(new WatchOptions()));
    }
}
