using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Federation.Lab.ApiServer.Storage;

namespace Federation.Lab.ApiServer.Api;

/// <summary>
/// The discovery documents (legacy, unaggregated form: clients asking for the aggregated
/// <c>APIGroupDiscoveryList</c> get plain <c>application/json</c> and fall back) and a minimal OpenAPI v3.
/// </summary>
internal static class DiscoveryDocuments
{
    private static readonly string[] Verbs = ["create", "delete", "get", "list", "patch", "update", "watch"];

    public static JsonObject Version() => new()
    {
        ["major"] = "1",
        ["minor"] = "32",
        ["gitVersion"] = "v1.32.0-lab",
        ["gitCommit"] = "",
        ["gitTreeState"] = "clean",
        ["buildDate"] = "2025-01-01T00:00:00Z",
        ["goVersion"] = "none (Federation.Lab.ApiServer, .NET)",
        ["compiler"] = "dotnet",
        ["platform"] = "linux/amd64",
    };

    public static JsonObject ApiVersions(string serverAddress) => new()
    {
        ["kind"] = "APIVersions",
        ["versions"] = new JsonArray("v1"),
        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = serverAddress }),
    };

    public static JsonObject GroupList()
    {
        var groups = new JsonArray();
        foreach (var group in LabResources.GroupVersions().Where(gv => gv.Group.Length > 0).Select(gv => gv.Group).Distinct())
        {
            groups.Add(Group(group));
        }

        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = groups };
    }

    public static JsonObject? Group(string group)
    {
        var versions = LabResources.GroupVersions().Where(gv => gv.Group == group).Select(gv => gv.Version).ToList();
        if (versions.Count == 0)
        {
            return null;
        }

        var list = new JsonArray();
        foreach (var version in versions)
        {
            list.Add(new JsonObject { ["groupVersion"] = $"{group}/{version}", ["version"] = version });
        }

        return new JsonObject
        {
            ["kind"] = "APIGroup",
            ["apiVersion"] = "v1",
            ["name"] = group,
            ["versions"] = list,
            ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{group}/{versions[0]}", ["version"] = versions[0] },
        };
    }

    public static JsonObject? ResourceList(string group, string version)
    {
        var types = LabResources.All.Where(r => r.Group == group && r.Version == version).ToList();
        if (types.Count == 0)
        {
            return null;
        }

        var resources = new JsonArray();
        foreach (var type in types)
        {
            var resource = new JsonObject
            {
                ["name"] = type.Resource,
                ["singularName"] = type.Singular,
                ["namespaced"] = type.Namespaced,
                ["kind"] = type.Kind,
                ["verbs"] = new JsonArray([.. Verbs.Select(v => (JsonNode)v)]),
            };
            if (type.ShortNames.Count > 0)
            {
                resource["shortNames"] = new JsonArray([.. type.ShortNames.Select(s => (JsonNode)s)]);
            }

            if (type.InCategoryAll)
            {
                resource["categories"] = new JsonArray("all");
            }

            resources.Add(resource);
            if (type.HasStatus)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = type.Resource + "/status",
                    ["singularName"] = "",
                    ["namespaced"] = type.Namespaced,
                    ["kind"] = type.Kind,
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
        }

        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = resources,
        };
    }

    /// <summary>
    /// The OpenAPI v3 index. kubectl reads it to learn whether the server validates fields itself
    /// (the <c>fieldValidation</c> parameter of PATCH operations); when it does, kubectl skips its
    /// client-side schema validation, which would need the full (protobuf) OpenAPI v2 document.
    /// </summary>
    public static JsonObject OpenApiIndex()
    {
        var paths = new JsonObject();
        foreach (var (group, version) in LabResources.GroupVersions())
        {
            var path = group.Length == 0 ? $"api/{version}" : $"apis/{group}/{version}";
            var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(OpenApiGroupVersion(group, version)!.ToJsonString())))[..16];
            paths[path] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{path}?hash={hash}" };
        }

        return new JsonObject { ["paths"] = paths };
    }

    /// <summary>
    /// A minimal OpenAPI v3 document of one group version: the PATCH operation of each kind, tagged with its
    /// group/version/kind and declaring the <c>fieldValidation</c> query parameter. No schemas: the server
    /// stores objects as given, and kubectl falls back to its built-in types for strategic merge patches.
    /// </summary>
    public static JsonObject? OpenApiGroupVersion(string group, string version)
    {
        var types = LabResources.All.Where(r => r.Group == group && r.Version == version).ToList();
        if (types.Count == 0)
        {
            return null;
        }

        var paths = new JsonObject();
        foreach (var type in types)
        {
            var itemPath = type.Namespaced
                ? $"{type.GroupVersionPath}/namespaces/{{namespace}}/{type.Resource}/{{name}}"
                : $"{type.GroupVersionPath}/{type.Resource}/{{name}}";
            paths[itemPath] = new JsonObject
            {
                ["patch"] = new JsonObject
                {
                    ["operationId"] = $"patch{type.Kind}",
                    ["parameters"] = new JsonArray(
                        new JsonObject { ["name"] = "fieldValidation", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } },
                        new JsonObject { ["name"] = "fieldManager", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } }),
                    ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "OK" } },
                    ["x-kubernetes-action"] = "patch",
                    ["x-kubernetes-group-version-kind"] = new JsonObject { ["group"] = group, ["version"] = version, ["kind"] = type.Kind },
                },
            };
        }

        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes (lab)", ["version"] = "v1.32.0-lab" },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = new JsonObject() },
        };
    }
}
