using Federation.ClusterMesh.ApiServer.Identities;
using Federation.Kubernetes.Models;

namespace Federation.ClusterMesh.ApiServer.Tests.Identities;

public sealed class IdentityLabelRulesTests
{
    [Fact]
    public void A_pod_label_string_matches_the_cilium_fixture_bytes()
    {
        // shared/fixtures/cilium/ciliumidentitites: identity 196915 of cluster3, namespace bar, app=baz.
        var pod = new Pod { Metadata = new ObjectMeta { Name = "p", Namespace = "bar", Labels = new Dictionary<string, string> { ["app"] = "baz" } } };
        var ns = new Namespace { Metadata = new ObjectMeta { Name = "bar" } };

        var labels = IdentityLabelRules.ForPod(pod, ns, "cluster3").Format();

        Assert.Equal("k8s:app=baz;k8s:io.cilium.k8s.policy.cluster=cluster3;k8s:io.kubernetes.pod.namespace=bar;", labels);
    }

    [Theory]
    [InlineData("pod-template-hash", false)]
    [InlineData("controller-revision-hash", false)]
    [InlineData("pod-template-generation", false)]
    [InlineData("statefulset.kubernetes.io/pod-name", false)]
    [InlineData("apps.kubernetes.io/pod-index", false)]
    [InlineData("batch.kubernetes.io/job-completion-index", false)]
    [InlineData("kubernetes.io/hostname", false)]
    [InlineData("topology.beta.kubernetes.io/zone", false)]
    [InlineData("k8s.io/x", false)]
    [InlineData("io.kubernetes.container.name", false)]
    [InlineData("annotation.foo", false)]
    [InlineData("etcd_node", false)]
    [InlineData("app", true)]
    [InlineData("app.kubernetes.io/name", true)]
    [InlineData("io.kubernetes.pod.namespace", true)]
    [InlineData("io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name", true)]
    [InlineData("io.cilium.k8s.policy.serviceaccount", true)]
    [InlineData("team.example.com/owner", true)]
    public void Cilium_default_label_filter_decides_which_keys_count(string key, bool relevant)
        => Assert.Equal(relevant, IdentityLabelRules.IsIdentityRelevant(key));

    [Theory]
    [InlineData(null, true)]
    [InlineData("true", true)]
    [InlineData("false", false)]
    [InlineData("False", false)]
    [InlineData("maybe", null)]
    public void The_global_annotation_opts_a_namespace_out_only_when_false(string? value, bool? expected)
    {
        var ns = new Namespace
        {
            Metadata = new ObjectMeta
            {
                Name = "n",
                Annotations = value is null ? null : new Dictionary<string, string> { ["clustermesh.cilium.io/global"] = value },
            },
        };

        Assert.Equal(expected, IdentityLabelRules.IsGlobal(ns));
    }
}
