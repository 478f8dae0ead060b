using System.Collections.Frozen;

namespace Federation.Lab.ApiServer.Storage;

/// <summary>
/// The fixed set of resources the lab API server serves. The first group are the kinds the system works
/// with; the rest are common kinds stored as opaque objects so that ordinary manifests apply.
/// </summary>
public static class LabResources
{
    public static readonly ResourceType Namespaces = new("", "v1", "namespaces", "Namespace", false, ["ns"], NameRule.Dns1123Label, HasStatus: true);
    public static readonly ResourceType Services = new("", "v1", "services", "Service", true, ["svc"], NameRule.Dns1035Label, HasStatus: true, InCategoryAll: true);
    public static readonly ResourceType Pods = new("", "v1", "pods", "Pod", true, ["po"], HasStatus: true, InCategoryAll: true);
    public static readonly ResourceType Nodes = new("", "v1", "nodes", "Node", false, ["no"], HasStatus: true);
    public static readonly ResourceType Secrets = new("", "v1", "secrets", "Secret", true, []);
    public static readonly ResourceType ConfigMaps = new("", "v1", "configmaps", "ConfigMap", true, ["cm"]);
    public static readonly ResourceType EndpointSlices = new("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, []);
    public static readonly ResourceType Leases = new("coordination.k8s.io", "v1", "leases", "Lease", true, []);

    /// <summary>Every served resource, in discovery order.</summary>
    public static readonly IReadOnlyList<ResourceType> All =
    [
        Namespaces,
        Services,
        Pods,
        Nodes,
        Secrets,
        ConfigMaps,
        new("", "v1", "endpoints", "Endpoints", true, ["ep"]),
        new("", "v1", "serviceaccounts", "ServiceAccount", true, ["sa"]),
        new("", "v1", "events", "Event", true, ["ev"]),
        new("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, ["pvc"], HasStatus: true),
        new("", "v1", "persistentvolumes", "PersistentVolume", false, ["pv"], HasStatus: true),
        new("", "v1", "resourcequotas", "ResourceQuota", true, ["quota"], HasStatus: true),
        new("", "v1", "limitranges", "LimitRange", true, ["limits"]),
        EndpointSlices,
        Leases,
        new("apps", "v1", "deployments", "Deployment", true, ["deploy"], HasStatus: true, InCategoryAll: true),
        new("apps", "v1", "daemonsets", "DaemonSet", true, ["ds"], HasStatus: true, InCategoryAll: true),
        new("apps", "v1", "statefulsets", "StatefulSet", true, ["sts"], HasStatus: true, InCategoryAll: true),
        new("apps", "v1", "replicasets", "ReplicaSet", true, ["rs"], HasStatus: true, InCategoryAll: true),
        new("batch", "v1", "jobs", "Job", true, [], HasStatus: true, InCategoryAll: true),
        new("batch", "v1", "cronjobs", "CronJob", true, ["cj"], HasStatus: true, InCategoryAll: true),
        new("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true, ["netpol"]),
        new("networking.k8s.io", "v1", "ingresses", "Ingress", true, ["ing"], HasStatus: true),
        new("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, ["pdb"], HasStatus: true),
        new("rbac.authorization.k8s.io", "v1", "roles", "Role", true, [], NameRule.PathSegment),
        new("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, [], NameRule.PathSegment),
        new("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, [], NameRule.PathSegment),
        new("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, [], NameRule.PathSegment),
    ];

    private static readonly FrozenDictionary<(string Group, string Version, string Resource), ResourceType> ByPath =
        All.ToFrozenDictionary(r => (r.Group, r.Version, r.Resource));

    /// <summary>The resource served at <c>group/version/resource</c>, or null.</summary>
    public static ResourceType? Find(string group, string version, string resource)
        => ByPath.GetValueOrDefault((group, version, resource));

    /// <summary>The group versions served, in discovery order (core first).</summary>
    public static IEnumerable<(string Group, string Version)> GroupVersions()
        => All.Select(r => (r.Group, r.Version)).Distinct();
}
