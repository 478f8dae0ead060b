namespace Federation.ClusterMesh.ApiServer.Services;

/// <summary>
/// The annotations that make a Service part of a global service (DESIGN.md §4), with Cilium's legacy aliases.
/// Values are "true"/"false" (case-insensitive, as Cilium lower-cases them); anything else is reported and the
/// default applies (global: false, shared: true, namespace: exported).
/// </summary>
internal static class GlobalServiceAnnotations
{
    public const string Global = "service.cilium.io/global";
    public const string GlobalAlias = "io.cilium/global-service";
    public const string Shared = "service.cilium.io/shared";
    public const string SharedAlias = "io.cilium/shared-service";

    /// <summary>On a Namespace: "false" opts every Service in it out (Cilium's default mode, where unannotated namespaces are global).</summary>
    public const string NamespaceGlobal = "clustermesh.cilium.io/global";

    /// <summary>The label that ties an EndpointSlice to its Service.</summary>
    public const string ServiceNameLabel = "kubernetes.io/service-name";

    /// <summary>Reads a boolean annotation (the primary name wins over the alias, as in Cilium).</summary>
    public static BoolAnnotation Read(IReadOnlyDictionary<string, string>? annotations, string name, string? alias, bool defaultValue)
    {
        string? found = null;
        string? value = null;
        if (annotations is not null)
        {
            if (annotations.TryGetValue(name, out var primary))
            {
                (found, value) = (name, primary);
            }
            else if (alias is not null && annotations.TryGetValue(alias, out var legacy))
            {
                (found, value) = (alias, legacy);
            }
        }

        if (found is null)
        {
            return new BoolAnnotation(defaultValue, null, null);
        }

        if (string.Equals(value, "true", StringComparison.OrdinalIgnoreCase))
        {
            return new BoolAnnotation(true, null, null);
        }

        if (string.Equals(value, "false", StringComparison.OrdinalIgnoreCase))
        {
            return new BoolAnnotation(false, null, null);
        }

        return new BoolAnnotation(defaultValue, found, value);
    }
}

/// <summary>An annotation's effective value; <see cref="InvalidName"/> is set when the value was malformed and the default applied.</summary>
internal readonly record struct BoolAnnotation(bool Value, string? InvalidName, string? InvalidValue);
