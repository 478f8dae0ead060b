using Federation.Mesh.Services;

namespace Federation.Mesh.Tests.Services;

public sealed class GlobalServiceAnnotationsTests
{
    private static GlobalServiceSettings Parse(params (string Key, string Value)[] annotations) =>
        GlobalServiceAnnotations.Parse(annotations.ToDictionary(a => a.Key, a => a.Value));

    [Fact]
    public void No_annotations_mean_not_global_shared_and_no_affinity()
    {
        var settings = GlobalServiceAnnotations.Parse(null);

        Assert.Equal(new GlobalServiceSettings { Global = false, Shared = true, Affinity = ServiceAffinity.None }, settings);
        Assert.Empty(settings.Problems);
    }

    [Theory]
    [InlineData("service.cilium.io/global", "true", true)]
    [InlineData("service.cilium.io/global", "TRUE", true)]
    [InlineData("service.cilium.io/global", "false", false)]
    [InlineData("io.cilium/global-service", "True", true)]
    public void Global_is_read_case_insensitively_from_the_annotation_or_its_legacy_alias(string key, string value, bool expected) =>
        Assert.Equal(expected, Parse((key, value)).Global);

    [Theory]
    [InlineData("service.cilium.io/shared", "false", false)]
    [InlineData("service.cilium.io/shared", "False", false)]
    [InlineData("service.cilium.io/shared", "true", true)]
    [InlineData("io.cilium/shared-service", "false", false)]
    public void Shared_defaults_to_true_and_false_turns_it_off(string key, string value, bool expected) =>
        Assert.Equal(expected, Parse(("service.cilium.io/global", "true"), (key, value)).Shared);

    [Theory]
    [InlineData("service.cilium.io/affinity", "local", ServiceAffinity.Local)]
    [InlineData("service.cilium.io/affinity", "Remote", ServiceAffinity.Remote)]
    [InlineData("service.cilium.io/affinity", "none", ServiceAffinity.None)]
    [InlineData("io.cilium/service-affinity", "local", ServiceAffinity.Local)]
    [InlineData("io.cilium/service-affinity", "remote", ServiceAffinity.Remote)]
    public void Affinity_is_read_from_the_annotation_or_its_legacy_alias(string key, string value, ServiceAffinity expected)
    {
        var settings = Parse(("service.cilium.io/global", "true"), (key, value));

        Assert.Equal(expected, settings.Affinity);
        Assert.Empty(settings.Problems);
    }

    [Fact]
    public void The_primary_annotation_wins_over_the_legacy_alias()
    {
        var settings = Parse(
            ("service.cilium.io/global", "true"),
            ("io.cilium/global-service", "false"),
            ("service.cilium.io/affinity", "remote"),
            ("io.cilium/service-affinity", "local"));

        Assert.True(settings.Global);
        Assert.Equal(ServiceAffinity.Remote, settings.Affinity);
    }

    [Fact]
    public void An_unknown_affinity_is_treated_as_none_and_reported()
    {
        var settings = Parse(("service.cilium.io/global", "true"), ("service.cilium.io/affinity", "nearest"));

        Assert.Equal(ServiceAffinity.None, settings.Affinity);
        var problem = Assert.Single(settings.Problems);
        Assert.Contains("service.cilium.io/affinity", problem, StringComparison.Ordinal);
        Assert.Contains("nearest", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_booleans_fall_back_to_their_defaults_and_are_reported()
    {
        var settings = Parse(("io.cilium/global-service", "yes"), ("service.cilium.io/shared", "no"));

        Assert.False(settings.Global);
        Assert.True(settings.Shared);
        Assert.Equal(2, settings.Problems.Length);
        Assert.Contains(settings.Problems, p => p.Contains("io.cilium/global-service", StringComparison.Ordinal));
        Assert.Contains(settings.Problems, p => p.Contains("service.cilium.io/shared", StringComparison.Ordinal));
    }

    [Fact]
    public void Affinity_is_ignored_on_a_service_that_is_not_global()
    {
        var settings = Parse(("service.cilium.io/affinity", "local"));

        Assert.False(settings.Global);
        Assert.Equal(ServiceAffinity.None, settings.Affinity);
    }
}
