namespace Federation.Kubernetes.Tests.TestSupport;

/// <summary>Small JSON snippets of API objects for scripted responses.</summary>
internal static class Json
{
    public static string Service(string ns, string name, string resourceVersion, string clusterIp = "10.0.0.1")
        => $$$"""{"apiVersion":"v1","kind":"Service","metadata":{"name":"{{{name}}}","namespace":"{{{ns}}}","resourceVersion":"{{{resourceVersion}}}"},"spec":{"clusterIP":"{{{clusterIp}}}","ports":[{"port":80}]}}""";

    public static string ServiceList(string resourceVersion, string? continueToken, params string[] items)
    {
        var cont = continueToken is null ? string.Empty : $$""","continue":"{{continueToken}}" """.TrimEnd();
        return $$$"""{"apiVersion":"v1","kind":"ServiceList","metadata":{"resourceVersion":"{{{resourceVersion}}}"{{{cont}}}},"items":[{{{string.Join(",", items)}}}]}""";
    }

    public static string Event(string type, string obj) => $$$"""{"type":"{{{type}}}","object":{{{obj}}}}""";

    public static string Bookmark(string resourceVersion)
        => Event("BOOKMARK", $$$"""{"apiVersion":"v1","kind":"Service","metadata":{"resourceVersion":"{{{resourceVersion}}}"}}""");

    public static string Gone(string message = "too old resource version")
        => Event("ERROR", $$"""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"{{message}}","reason":"Expired","code":410}""");
}
