using System.Text.RegularExpressions;

namespace Federation.Lab.ApiServer.Storage;

/// <summary>Kubernetes' object name rules, with Kubernetes' own messages.</summary>
internal static partial class NameValidation
{
    private const string SubdomainPattern = @"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
    private const string Label1123Pattern = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
    private const string Label1035Pattern = "[a-z]([-a-z0-9]*[a-z0-9])?";

    /// <summary>Null when <paramref name="name"/> is valid under <paramref name="rule"/>, else the reason.</summary>
    public static string? Check(NameRule rule, string name)
    {
        return rule switch
        {
            NameRule.Dns1123Subdomain when name.Length > 253 => "must be no more than 253 characters",
            NameRule.Dns1123Subdomain when !Subdomain().IsMatch(name) =>
                $"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{SubdomainPattern}')",
            NameRule.Dns1123Label when name.Length > 63 => "must be no more than 63 characters",
            NameRule.Dns1123Label when !Label1123().IsMatch(name) =>
                $"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{Label1123Pattern}')",
            NameRule.Dns1035Label when name.Length > 63 => "must be no more than 63 characters",
            NameRule.Dns1035Label when !Label1035().IsMatch(name) =>
                $"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '{Label1035Pattern}')",
            NameRule.PathSegment when name is "." or ".." => $"may not be '{name}'",
            NameRule.PathSegment when name.Contains('/') || name.Contains('%') => "may not contain '/' or '%'",
            _ => null,
        };
    }

    [GeneratedRegex("^" + SubdomainPattern + "$", RegexOptions.CultureInvariant)]
    private static partial Regex Subdomain();

    [GeneratedRegex("^" + Label1123Pattern + "$", RegexOptions.CultureInvariant)]
    private static partial Regex Label1123();

    [GeneratedRegex("^" + Label1035Pattern + "$", RegexOptions.CultureInvariant)]
    private static partial Regex Label1035();
}
