using System.Globalization;
using System.Text;
using Federation.Kubernetes.Models;

namespace Federation.Kubernetes.Client;

/// <summary>Builds the paths and query strings of API requests.</summary>
internal static class RequestPaths
{
    /// <summary>
    /// <c>/api/v1/namespaces/ns/services[/name]</c>, or without the namespace part for cluster-scoped kinds and for
    /// namespaced kinds listed across all namespaces (<paramref name="namespace"/> null).
    /// </summary>
    public static string ForResource(ApiResource resource, string? @namespace, string? name)
    {
        var path = new StringBuilder(resource.GroupVersionPath);
        if (resource.Namespaced && !string.IsNullOrEmpty(@namespace))
        {
            path.Append("/namespaces/").Append(Uri.EscapeDataString(@namespace));
        }

        path.Append('/').Append(resource.Plural);
        if (name is not null)
        {
            path.Append('/').Append(Uri.EscapeDataString(name));
        }

        return path.ToString();
    }

    public static string Query(ListOptions? options)
    {
        if (options is null)
        {
            return string.Empty;
        }

        var query = new QueryBuilder();
        query.Add("labelSelector", options.LabelSelector);
        query.Add("fieldSelector", options.FieldSelector);
        query.Add("limit", options.Limit?.ToString(CultureInfo.InvariantCulture));
        query.Add("continue", options.Continue);
        query.Add("resourceVersion", options.ResourceVersion);
        return query.ToString();
    }

    public static string Query(WatchOptions? options)
    {
        var query = new QueryBuilder();
        query.Add("watch", "true");
        if (options is not null)
        {
            query.Add("resourceVersion", options.ResourceVersion);
            query.Add("allowWatchBookmarks", options.AllowBookmarks ? "true" : null);
            query.Add("labelSelector", options.LabelSelector);
            query.Add("fieldSelector", options.FieldSelector);
            query.Add("timeoutSeconds", options.TimeoutSeconds?.ToString(CultureInfo.InvariantCulture));
        }

        return query.ToString();
    }

    private sealed class QueryBuilder
    {
        private readonly StringBuilder _text = new();

        public void Add(string name, string? value)
        {
            if (string.IsNullOrEmpty(value))
            {
                return;
            }

            _text.Append(_text.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        }

        public override string ToString() => _text.ToString();
    }
}
