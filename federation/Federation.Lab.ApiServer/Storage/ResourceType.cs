namespace Federation.Lab.ApiServer.Storage;

/// <summary>How a kind's object names are validated (the rule Kubernetes applies to that kind).</summary>
public enum NameRule
{
    /// <summary>RFC 1123 subdomain (most kinds).</summary>
    Dns1123Subdomain,

    /// <summary>RFC 1123 label (namespaces).</summary>
    Dns1123Label,

    /// <summary>RFC 1035 label (services: the name becomes a DNS label and must start with a letter).</summary>
    Dns1035Label,

    /// <summary>Any path segment (RBAC kinds, whose names look like <c>system:controller:x</c>).</summary>
    PathSegment,
}

/// <summary>One REST resource the lab API server serves (a group/version/resource and its kind).</summary>
public sealed record ResourceType(
    string Group,
    string Version,
    string Resource,
    string Kind,
    bool Namespaced,
    IReadOnlyList<string> ShortNames,
    NameRule NameRule = NameRule.Dns1123Subdomain,
    bool HasStatus = false,
    bool InCategoryAll = false)
{
    /// <summary>The <c>apiVersion</c> of the kind: <c>v1</c> for the core group, <c>group/version</c> otherwise.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    public string ListKind => Kind + "List";

    public string Singular => Kind.ToLowerInvariant();

    /// <summary>The group segment of the etcd key (<c>core</c> for the core group).</summary>
    public string StorageGroup => Group.Length == 0 ? "core" : Group;

    /// <summary>The URL prefix of the group version: <c>/api/v1</c> or <c>/apis/group/version</c>.</summary>
    public string GroupVersionPath => Group.Length == 0 ? $"/api/{Version}" : $"/apis/{Group}/{Version}";
}
