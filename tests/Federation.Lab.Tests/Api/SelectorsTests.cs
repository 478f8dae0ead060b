using System.Text.Json.Nodes;
using Federation.Lab.ApiServer.Api;

namespace Federation.Lab.Tests.Api;

public sealed class SelectorsTests
{
    private static readonly JsonObject Web = JsonNode.Parse("""{"metadata":{"name":"w","namespace":"n","labels":{"app":"web","tier":"front"}},"spec":{"nodeName":"node-1"}}""")!.AsObject();

    [Theory]
    [InlineData("app=web", true)]
    [InlineData("app==web", true)]
    [InlineData("app!=web", false)]
    [InlineData("app in (db, web)", true)]
    [InlineData("app notin (web)", false)]
    [InlineData("tier,app=web", true)]
    [InlineData("!tier", false)]
    [InlineData("!missing", true)]
    [InlineData("missing!=x", true)]
    [InlineData("", true)]
    public void Label_selectors_match_like_kubernetes(string selector, bool matches)
    {
        Assert.True(Selectors.TryParseLabels(selector, out var predicate, out var error), error);
        Assert.Equal(matches, predicate(Web));
    }

    [Theory]
    [InlineData("app in web")]
    [InlineData("app=(x")]
    [InlineData("bad key=x")]
    public void Malformed_label_selectors_are_rejected(string selector)
        => Assert.False(Selectors.TryParseLabels(selector, out _, out _));

    [Theory]
    [InlineData("metadata.name=w", true)]
    [InlineData("metadata.namespace==n,metadata.name!=x", true)]
    [InlineData("spec.nodeName=node-2", false)]
    public void Field_selectors_compare_dotted_paths(string selector, bool matches)
    {
        Assert.True(Selectors.TryParseFields(selector, out var predicate, out var error), error);
        Assert.Equal(matches, predicate(Web));
    }
}
