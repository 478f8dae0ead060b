using Federation.Etcd.ClusterMesh;

namespace Federation.Etcd.Tests;

public sealed class ClusterMeshIdentityTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("cluster3")]
    [InlineData("a-b")]
    [InlineData("a--b")]
    [InlineData("abcdefghijklmnopqrstuvwxyz012345")]
    public void Valid_cluster_names_are_accepted(string name) =>
        Assert.True(ClusterIdentity.ValidateClusterName(name).Ok, name);

    [Theory]
    [InlineData("", "empty")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456", "33 characters")]
    [InlineData("default", "reserved")]
    [InlineData("-a", "must match")]
    [InlineData("a-", "must match")]
    [InlineData("-", "must match")]
    [InlineData("Cluster", "must match")]
    [InlineData("a_b", "must match")]
    [InlineData("a.b", "must match")]
    [InlineData("a\n", "must match")]
    public void Invalid_cluster_names_are_refused_with_the_rule(string name, string reason)
    {
        var result = ClusterIdentity.ValidateClusterName(name);
        Assert.False(result.Ok);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
        if (name.Length > 0)
        {
            Assert.Contains($"\"{name}\"", result.Error, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(1u, 255u)]
    [InlineData(255u, 255u)]
    [InlineData(1u, 511u)]
    [InlineData(256u, 511u)]
    [InlineData(511u, 511u)]
    public void Cluster_ids_inside_the_mesh_size_are_accepted(uint id, uint max) =>
        Assert.True(ClusterIdentity.ValidateClusterId(id, max).Ok);

    [Theory]
    [InlineData(0u, 255u, "between 1 and 255")]
    [InlineData(256u, 255u, "between 1 and 255")]
    [InlineData(0u, 511u, "between 1 and 511")]
    [InlineData(512u, 511u, "between 1 and 511")]
    [InlineData(3u, 0u, "must be 255 or 511")]
    [InlineData(3u, 256u, "must be 255 or 511")]
    [InlineData(3u, 1023u, "must be 255 or 511")]
    public void Cluster_ids_outside_the_mesh_size_are_refused(uint id, uint max, string reason)
    {
        var result = ClusterIdentity.ValidateClusterId(id, max);
        Assert.False(result.Ok);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Identity_range_puts_the_cluster_id_in_the_top_bits()
    {
        Assert.Equal(new IdentityRange((3u << 16) + 256, (4u << 16) - 1), ClusterIdentity.GetIdentityRange(3));
        Assert.Equal(new IdentityRange(256, 65535), ClusterIdentity.GetIdentityRange(0));
        Assert.Equal(new IdentityRange((255u << 16) + 256, (1u << 24) - 1), ClusterIdentity.GetIdentityRange(255));
        Assert.Equal(new IdentityRange((3u << 15) + 256, (4u << 15) - 1), ClusterIdentity.GetIdentityRange(3, 511));
        Assert.Equal(new IdentityRange((511u << 15) + 256, (1u << 24) - 1), ClusterIdentity.GetIdentityRange(511, 511));
    }

    [Fact]
    public void Identities_Cilium_allocated_in_cluster3_fall_in_its_range()
    {
        var ids = CiliumFixtures.Values.Where(v => v.Kind == FixtureKind.Identity)
            .Select(v => ClusterMeshKeys.TryParseIdentityKey(v.Key, out uint id) ? id : 0)
            .Distinct()
            .ToList();
        Assert.NotEmpty(ids);
        foreach (var id in ids)
        {
            Assert.True(ClusterIdentity.ValidateIdentity(id, 3).Ok);
            Assert.Equal(3u, ClusterIdentity.ClusterIdOf(id));
            Assert.False(ClusterIdentity.ValidateIdentity(id, 4).Ok);
        }
    }

    [Theory]
    [InlineData((3u << 16) + 255, 3u, 255u)]
    [InlineData(3u << 16, 3u, 255u)]
    [InlineData(4u << 16, 3u, 255u)]
    [InlineData((3u << 16) + 256, 3u, 511u)]
    [InlineData(100u, 3u, 255u)]
    public void Identities_outside_the_range_are_refused_naming_the_range(uint identity, uint cluster, uint max)
    {
        var result = ClusterIdentity.ValidateIdentity(identity, cluster, max);
        Assert.False(result.Ok);
        Assert.Contains(identity.ToString(System.Globalization.CultureInfo.InvariantCulture), result.Error, StringComparison.Ordinal);
        Assert.Contains(ClusterIdentity.GetIdentityRange(cluster, max).ToString(), result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Reserved_identities_are_1_to_255()
    {
        Assert.False(ClusterIdentity.IsReservedIdentity(0));
        Assert.True(ClusterIdentity.IsReservedIdentity(1));
        Assert.True(ClusterIdentity.IsReservedIdentity(255));
        Assert.False(ClusterIdentity.IsReservedIdentity(256));
    }
}
