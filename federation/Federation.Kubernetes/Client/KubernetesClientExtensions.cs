using System.Runtime.CompilerServices;
using Federation.Kubernetes.Models;

namespace Federation.Kubernetes.Client;

/// <summary>Paging helpers over <see cref="IKubernetesClient"/>.</summary>
public static class KubernetesClientExtensions
{
    /// <summary>
    /// Lists page after page, following <c>continue</c> until the server has no more. Every page belongs to the same
    /// snapshot; an expired continue token fails with <see cref="KubernetesGoneException"/> (start again).
    /// </summary>
    public static async IAsyncEnumerable<KubernetesList<T>> ListPagesAsync<T>(
        this IKubernetesClient client, string? @namespace, ListOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>
    {
        ArgumentNullException.ThrowIfNull(client);
        var request = options ?? new ListOptions();
        while (true)
        {
            var page = await client.ListAsync<T>(@namespace, request, cancellationToken).ConfigureAwait(false);
            yield return page;
            if (string.IsNullOrEmpty(page.Metadata.Continue))
            {
                yield break;
            }

            // The continue token pins the snapshot; the server refuses a resourceVersion next to it.
            request = request with { Continue = page.Metadata.Continue, ResourceVersion = null };
        }
    }

    /// <summary>Lists every page and returns one list: all items, with the snapshot's resource version.</summary>
    public static async Task<KubernetesList<T>> ListAllAsync<T>(
        this IKubernetesClient client, string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>
    {
        var items = new List<T>();
        KubernetesList<T>? last = null;
        await foreach (var page in client.ListPagesAsync<T>(@namespace, options, cancellationToken).ConfigureAwait(false))
        {
            items.AddRange(page.Items);
            last = page;
        }

        return last! with { Items = items, Metadata = last!.Metadata with { Continue = null, RemainingItemCount = null } };
    }
}
