using System.Net;
using System.Text.Json.Nodes;
using Federation.KindConfigs.Tests.Support;

namespace Federation.KindConfigs.Tests;

public sealed class KindClusterConfigTests
{
    private static JsonNode Config(string cluster) => Yaml.ParseSingle(File.ReadAllText(Path.Combine(Repo.Clusters, cluster + ".yaml")));

    private static IEnumerable<(string Label, IPNetwork Network)> Subnets()
    {
        foreach (var cluster in Repo.ClusterNames)
        {
            var networking = Config(cluster)["networking"];
            foreach (var key in new[] { "podSubnet", "serviceSubnet" })
            {
                var cidr = networking?[key].Str();
                Assert.False(cidr is null, $"{cluster}.yaml: networking.{key} is not set (kind's default would be the same in every cluster)");
                Assert.True(IPNetwork.TryParse(cidr, out var network), $"{cluster}.yaml: networking.{key} '{cidr}' is not a CIDR");
                yield return ($"{cluster} {key} {cidr}", network);
            }
        }
    }

    private static bool Overlap(IPNetwork a, IPNetwork b) => a.Contains(b.BaseAddress) || b.Contains(a.BaseAddress);

    [Theory]
    [InlineData("cluster1")]
    [InlineData("cluster2")]
    [InlineData("cluster3")]
    public void Each_config_is_a_kind_cluster_named_after_its_file_with_the_default_cni_and_a_worker(string cluster)
    {
        var config = Config(cluster);

        Assert.Equal("Cluster", config["kind"].Str());
        Assert.Equal("kind.x-k8s.io/v1alpha4", config["apiVersion"].Str());
        Assert.Equal(cluster, config["name"].Str());
        Assert.NotEqual("true", config["networking"]?["disableDefaultCNI"].Str());
        Assert.NotEqual("none", config["networking"]?["kubeProxyMode"].Str());
        var roles = config["nodes"].Items().Select(n => n["role"].Str()).ToList();
        Assert.Equal(1, roles.Count(r => r == "control-plane"));
        Assert.Contains("worker", roles);
    }

    [Fact]
    public void Pod_and_service_cidrs_do_not_overlap_in_or_across_clusters()
    {
        var subnets = Subnets().ToList();
        Assert.Equal(Repo.ClusterNames.Count * 2, subnets.Count);

        var overlaps = new List<string>();
        for (var i = 0; i < subnets.Count; i++)
        {
            for (var j = i + 1; j < subnets.Count; j++)
            {
                if (Overlap(subnets[i].Network, subnets[j].Network))
                {
                    overlaps.Add($"{subnets[i].Label} overlaps {subnets[j].Label}");
                }
            }
        }

        Assert.True(overlaps.Count == 0, Tools.Lines(overlaps));
    }

    [Fact]
    public void Cidrs_are_ipv4_and_clear_of_the_docker_address_pools_kind_nodes_live_in()
    {
        // The docker network "kind" (the node IPs, i.e. the tunnel endpoints) comes from docker's default pools.
        IPNetwork[] dockerPools = [IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.168.0.0/16")];
        foreach (var (label, network) in Subnets())
        {
            Assert.Equal(System.Net.Sockets.AddressFamily.InterNetwork, network.BaseAddress.AddressFamily);
            Assert.True(network.PrefixLength is >= 8 and <= 24, $"{label}: prefix /{network.PrefixLength} is not a usable pod/service range");
            Assert.DoesNotContain(dockerPools, pool => Overlap(pool, network));
        }
    }

    [Fact]
    public void The_overlap_check_sees_a_nested_range()
    {
        // Guards the check above: a /16 inside a /8 is an overlap even though the base addresses differ.
        Assert.True(Overlap(IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("10.101.0.0/16")));
        Assert.False(Overlap(IPNetwork.Parse("10.1.0.0/16"), IPNetwork.Parse("10.101.0.0/16")));
    }
}
