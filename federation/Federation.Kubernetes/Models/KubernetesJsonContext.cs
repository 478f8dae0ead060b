using System.Text.Json;
using System.Text.Json.Serialization;

namespace Federation.Kubernetes.Models;

/// <summary>The source-generated JSON contracts of every model: camelCase names as Kubernetes spells them, nulls omitted.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Namespace))]
[JsonSerializable(typeof(KubernetesList<Namespace>), TypeInfoPropertyName = "NamespaceList")]
[JsonSerializable(typeof(Service))]
[JsonSerializable(typeof(KubernetesList<Service>), TypeInfoPropertyName = "ServiceList")]
[JsonSerializable(typeof(EndpointSlice))]
[JsonSerializable(typeof(KubernetesList<EndpointSlice>), TypeInfoPropertyName = "EndpointSliceList")]
[JsonSerializable(typeof(Pod))]
[JsonSerializable(typeof(KubernetesList<Pod>), TypeInfoPropertyName = "PodList")]
[JsonSerializable(typeof(Node))]
[JsonSerializable(typeof(KubernetesList<Node>), TypeInfoPropertyName = "NodeList")]
[JsonSerializable(typeof(Secret))]
[JsonSerializable(typeof(KubernetesList<Secret>), TypeInfoPropertyName = "SecretList")]
[JsonSerializable(typeof(ConfigMap))]
[JsonSerializable(typeof(KubernetesList<ConfigMap>), TypeInfoPropertyName = "ConfigMapList")]
[JsonSerializable(typeof(Lease))]
[JsonSerializable(typeof(KubernetesList<Lease>), TypeInfoPropertyName = "LeaseList")]
[JsonSerializable(typeof(Status))]
[JsonSerializable(typeof(ObjectMeta))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class KubernetesJsonContext : JsonSerializerContext;
