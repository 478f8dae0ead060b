namespace Federation.Etcd.Tests.Infrastructure;

/// <summary>Test classes marked <c>[Collection(EtcdCollection.Name)]</c> share one <see cref="EtcdFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class EtcdCollection : ICollectionFixture<EtcdFixture>
{
    public const string Name = "etcd";
}
