using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.Lab.ApiServer.Storage;

namespace Federation.Lab.ApiServer.Api;

/// <summary>
/// Label selectors (<c>a=b</c>, <c>a==b</c>, <c>a!=b</c>, <c>a in (x,y)</c>, <c>a notin (x)</c>, <c>a</c>, <c>!a</c>)
/// and field selectors (<c>path=value</c>, <c>path==value</c>, <c>path!=value</c> over dotted paths such as
/// <c>metadata.name</c>, <c>metadata.namespace</c>, <c>spec.nodeName</c>), compiled to predicates.
/// </summary>
internal static class Selectors
{
    public static bool TryParseLabels(string? text, [NotNullWhen(true)] out Func<JsonObject, bool>? predicate, [NotNullWhen(false)] out string? error)
    {
        predicate = null;
        error = null;
        var requirements = new List<Func<IReadOnlyDictionary<string, string>, bool>>();
        foreach (var term in SplitTerms(text ?? ""))
        {
            var requirement = ParseLabelTerm(term, out error);
            if (requirement is null)
            {
                error ??= $"invalid label selector: '{term}'";
                return false;
            }

            requirements.Add(requirement);
        }

        predicate = value =>
        {
            var labels = ObjectJson.Labels(value);
            return requirements.TrueForAll(r => r(labels));
        };
        return true;
    }

    public static bool TryParseFields(string? text, [NotNullWhen(true)] out Func<JsonObject, bool>? predicate, [NotNullWhen(false)] out string? error)
    {
        predicate = null;
        error = null;
        var requirements = new List<Func<JsonObject, bool>>();
        foreach (var raw in SplitTerms(text ?? ""))
        {
            var term = raw.Trim();
            var (op, index) = term.Contains("!=", StringComparison.Ordinal) ? ("!=", term.IndexOf("!=", StringComparison.Ordinal))
                : term.Contains("==", StringComparison.Ordinal) ? ("==", term.IndexOf("==", StringComparison.Ordinal))
                : ("=", term.IndexOf('='));
            if (index <= 0)
            {
                error = $"invalid field selector: '{term}': expected field=value, field==value or field!=value";
                return false;
            }

            var path = term[..index].Trim().Split('.');
            var expected = term[(index + op.Length)..].Trim();
            var negate = op == "!=";
            requirements.Add(value => (FieldValue(value, path) == expected) != negate);
        }

        predicate = value => requirements.TrueForAll(r => r(value));
        return true;
    }

    private static string FieldValue(JsonObject value, string[] path)
    {
        JsonNode? node = value;
        foreach (var segment in path)
        {
            node = node is JsonObject o ? o[segment] : null;
        }

        return node switch
        {
            null => "",
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonValue v => v.ToJsonString(),
            _ => "",
        };
    }

    private static Func<IReadOnlyDictionary<string, string>, bool>? ParseLabelTerm(string term, out string? error)
    {
        error = null;
        term = term.Trim();
        if (term.Length == 0)
        {
            error = "invalid label selector: empty requirement";
            return null;
        }

        var words = term.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length >= 2 && (words[1] == "in" || words[1] == "notin" || words[1].StartsWith("in(", StringComparison.Ordinal) || words[1].StartsWith("notin(", StringComparison.Ordinal)))
        {
            var key = words[0];
            var rest = term[key.Length..].TrimStart();
            var notIn = rest.StartsWith("notin", StringComparison.Ordinal);
            rest = rest[(notIn ? 5 : 2)..].Trim();
            if (!rest.StartsWith('(') || !rest.EndsWith(')'))
            {
                error = $"invalid label selector: '{term}': expected a parenthesised value set";
                return null;
            }

            var values = rest[1..^1].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
            if (!ValidKey(key, out error))
            {
                return null;
            }

            return notIn
                ? labels => !labels.TryGetValue(key, out var v) || !values.Contains(v)
                : labels => labels.TryGetValue(key, out var v) && values.Contains(v);
        }

        if (term.StartsWith('!'))
        {
            var key = term[1..].Trim();
            return ValidKey(key, out error) ? labels => !labels.ContainsKey(key) : null;
        }

        foreach (var op in new[] { "!=", "==", "=" })
        {
            var index = term.IndexOf(op, StringComparison.Ordinal);
            if (index < 0)
            {
                continue;
            }

            var key = term[..index].Trim();
            var value = term[(index + op.Length)..].Trim();
            if (!ValidKey(key, out error))
            {
                return null;
            }

            if (value.Contains(' ', StringComparison.Ordinal) || value.Contains('=', StringComparison.Ordinal) || value.Contains('(', StringComparison.Ordinal))
            {
                error = $"invalid label selector: '{term}': invalid value '{value}'";
                return null;
            }

            return op == "!="
                ? labels => !labels.TryGetValue(key, out var v) || v != value
                : labels => labels.TryGetValue(key, out var v) && v == value;
        }

        return ValidKey(term, out error) ? labels => labels.ContainsKey(term) : null;
    }

    private static bool ValidKey(string key, out string? error)
    {
        error = null;
        if (key.Length == 0 || key.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/')))
        {
            error = $"invalid label selector: invalid label key \"{key}\"";
            return false;
        }

        return true;
    }

    /// <summary>Splits at commas that are not inside parentheses.</summary>
    private static IEnumerable<string> SplitTerms(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '(':
                    depth++;
                    break;
                case ')':
                    depth--;
                    break;
                case ',' when depth == 0:
                    yield return text[start..i];
                    start = i + 1;
                    break;
            }
        }

        if (text.Length > 0)
        {
            yield return text[start..];
        }
    }
}
