using Google.Protobuf;

namespace Federation.Etcd;

/// <summary>etcd's key-range conventions.</summary>
public static class KeyRange
{
    /// <summary>The range end that selects every key starting with <paramref name="prefix"/> (the prefix with its last byte below 0xff incremented).</summary>
    public static ByteString PrefixEnd(ByteString prefix)
    {
        var bytes = prefix.ToByteArray();
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] < 0xff)
            {
                bytes[i]++;
                return ByteString.CopyFrom(bytes, 0, i + 1);
            }
        }

        // Every byte is 0xff (or the prefix is empty): "\0" means "to the end of the keyspace".
        return ByteString.CopyFrom(0);
    }

    public static ByteString PrefixEnd(string prefix) => PrefixEnd(ByteString.CopyFromUtf8(prefix));
}
