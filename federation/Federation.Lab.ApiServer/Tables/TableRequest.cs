namespace Federation.Lab.ApiServer.Tables;

/// <summary>What a Table row carries besides its cells (the <c>includeObject</c> query parameter).</summary>
internal enum IncludeObject
{
    None,
    Metadata,
    Object,
}

/// <summary>
/// A request for the <c>meta.k8s.io</c> Table form of a GET, as <c>kubectl get</c> sends it:
/// <c>Accept: application/json;as=Table;v=v1;g=meta.k8s.io, …, application/json</c>.
/// </summary>
internal sealed record TableRequest(string ApiVersion, IncludeObject Include)
{
    /// <summary>
    /// The Table the request asks for, or null when it asks for the objects themselves. The Accept entries are
    /// taken in order: the first JSON Table entry wins; any plain media type before it (JSON, protobuf, YAML)
    /// means the objects; other <c>as=</c> forms and Tables in protobuf are passed over, as the server cannot
    /// produce them. False (with an error) for a bad <c>includeObject</c>.
    /// </summary>
    public static bool TryParse(string? accept, string? includeObject, out TableRequest? table, out string error)
    {
        table = null;
        error = "";
        if (FindVersion(accept) is not { } version)
        {
            return true;
        }

        IncludeObject? include = includeObject switch
        {
            null or "" or "Metadata" => IncludeObject.Metadata,
            "None" => IncludeObject.None,
            "Object" => IncludeObject.Object,
            _ => null,
        };
        if (include is null)
        {
            error = $"includeObject: Unsupported value: \"{includeObject}\": supported values: \"None\", \"Metadata\", \"Object\"";
            return false;
        }

        table = new TableRequest("meta.k8s.io/" + version, include.Value);
        return true;
    }

    private static string? FindVersion(string? accept)
    {
        if (string.IsNullOrEmpty(accept))
        {
            return null;
        }

        foreach (var entry in accept.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = entry.Split(';', StringSplitOptions.TrimEntries);
            string? @as = null, group = null, version = null;
            foreach (var parameter in parts.AsSpan(1))
            {
                var equals = parameter.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    continue;
                }

                var value = parameter[(equals + 1)..].Trim().Trim('"');
                switch (parameter[..equals].Trim())
                {
                    case "as":
                        @as = value;
                        break;
                    case "g":
                        group = value;
                        break;
                    case "v":
                        version = value;
                        break;
                }
            }

            if (@as is null)
            {
                return null;
            }

            if (@as == "Table" && group == "meta.k8s.io" && version is "v1" or "v1beta1"
                && parts[0].Equals("application/json", StringComparison.OrdinalIgnoreCase))
            {
                return version;
            }
        }

        return null;
    }
}
