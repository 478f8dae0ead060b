namespace Federation.Kubernetes.Models;

/// <summary>The API identity of a kind: where it lives in the REST API and how it is named there.</summary>
/// <param name="Group">The API group; empty for the core group (<c>/api/v1</c>).</param>
/// <param name="Version">The API version, e.g. <c>v1</c>.</param>
/// <param name="Kind">The kind, e.g. <c>Service</c>.</param>
/// <param name="Plural">The plural resource name used in URLs, e.g. <c>services</c>.</param>
/// <param name="Namespaced">Whether objects of this kind live in a namespace.</param>
public sealed record ApiResource(string Group, string Version, string Kind, string Plural, bool Namespaced)
{
    /// <summary>The <c>apiVersion</c> field value: <c>v1</c> or <c>group/version</c>.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>The kind of the list type, e.g. <c>ServiceList</c>.</summary>
    public string ListKind => Kind + "List";

    /// <summary>The URL prefix of the group version: <c>/api/v1</c> or <c>/apis/group/version</c>.</summary>
    public string GroupVersionPath => Group.Length == 0 ? $"/api/{Version}" : $"/apis/{Group}/{Version}";
}
