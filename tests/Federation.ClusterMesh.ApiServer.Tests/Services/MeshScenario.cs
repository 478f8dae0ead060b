using System.Text.Json;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.Etcd;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Models;

namespace Federation.ClusterMesh.ApiServer.Tests.Services;

/// <summary>Applying Kubernetes objects to the lab API server and reading what the exporter wrote to etcd.</summary>
internal static class MeshScenario
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Creates the object, or replaces it (as <c>kubectl replace</c>) when it exists.</summary>
    public static async Task ApplyAsync<T>(this ClusterEnvironment env, T item)
        where T : class, IKubernetesObject<T>
    {
        try
        {
            var current = await env.Kubernetes.GetAsync<T>(item.Metadata.Namespace, item.Metadata.Name!);
            var json = JsonSerializer.SerializeToNode(item, T.JsonTypeInfo)!;
            json["metadata"]!["resourceVersion"] = current.Metadata.ResourceVersion;
            await env.Kubernetes.UpdateAsync(json.Deserialize(T.JsonTypeInfo)!);
        }
        catch (KubernetesNotFoundException)
        {
            await env.Kubernetes.CreateAsync(item);
        }
    }

    public static Task ApplyYamlAsync<T>(this ClusterEnvironment env, string yaml)
        where T : class, IKubernetesObject<T>
        => env.ApplyAsync(KubeYaml.Parse<T>(yaml));

    public static Task DeleteAsync<T>(this ClusterEnvironment env, string? @namespace, string name)
        where T : class, IKubernetesObject<T>
        => env.Kubernetes.DeleteAsync<T>(@namespace, name);

    /// <summary>The listing under a prefix as the fixtures print it: <c>key&lt;TAB&gt;value</c> lines in etcd key order.</summary>
    public static async Task<string> ListingAsync(this ClusterEnvironment env, string prefix)
    {
        var listing = await env.Mesh.ListPrefixAsync(prefix);
        return string.Join('\n', listing.Kvs.Select(kv => $"{kv.Key.ToStringUtf8()}\t{kv.Value.ToStringUtf8()}"));
    }

    public static async Task<string?> ValueAsync(this ClusterEnvironment env, string key)
        => (await env.Mesh.GetAsync(key))?.Value.ToStringUtf8();

    public static async Task WaitForListingAsync(this ClusterEnvironment env, string prefix, string expected, string what)
    {
        try
        {
            await Eventually.TrueAsync(async () => await env.ListingAsync(prefix) == expected, Timeout, what);
        }
        catch (TimeoutException)
        {
            // Show the difference, not only that it timed out.
            Assert.Equal(expected, await env.ListingAsync(prefix));
            throw;
        }
    }

    public static async Task WaitForValueAsync(this ClusterEnvironment env, string key, string? expected, string what)
    {
        try
        {
            await Eventually.TrueAsync(async () => await env.ValueAsync(key) == expected, Timeout, what);
        }
        catch (TimeoutException)
        {
            Assert.Equal(expected, await env.ValueAsync(key));
            throw;
        }
    }
}
