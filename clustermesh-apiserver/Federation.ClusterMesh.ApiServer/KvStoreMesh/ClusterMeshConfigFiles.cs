using System.Collections.Immutable;
using System.Runtime.Versioning;

namespace Federation.ClusterMesh.ApiServer.KvStoreMesh;

/// <summary>What one <see cref="ClusterMeshConfigFiles.Apply"/> did.</summary>
/// <param name="Files">The files the directory now holds (the Secret's usable keys), in ordinal order.</param>
/// <param name="Written">Files created or replaced because their content or mode differed.</param>
/// <param name="Removed">Files deleted because the Secret no longer has them.</param>
/// <param name="UnsafeKeys">Keys skipped because they are not safe file names.</param>
internal sealed record ClusterMeshConfigFilesResult(
    ImmutableArray<string> Files, ImmutableArray<string> Written, ImmutableArray<string> Removed, ImmutableArray<string> UnsafeKeys);

/// <summary>
/// Keeps a directory equal to a Secret's data, as a kubelet keeps a Secret volume: one file per key (mode 0600,
/// written to a temporary file and renamed, so a reader never sees half a file), every other file removed.
/// </summary>
[UnsupportedOSPlatform("windows")] // file modes (0600)
internal static class ClusterMeshConfigFiles
{
    private const UnixFileMode ConfigFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>A key usable as a file name in the directory: no path separators, no '..', no leading '.' (hidden and temporary files).</summary>
    public static bool IsSafeFileName(string key)
        => key.Length > 0
            && !key.StartsWith('.')
            && !key.Contains('/', StringComparison.Ordinal)
            && !key.Contains('\\', StringComparison.Ordinal)
            && !key.Contains("..", StringComparison.Ordinal)
            && !key.Contains('\0', StringComparison.Ordinal);

    /// <summary>Makes <paramref name="directory"/> hold exactly the safe keys of <paramref name="data"/> (null: no Secret, so no files).</summary>
    public static ClusterMeshConfigFilesResult Apply(string directory, IReadOnlyDictionary<string, byte[]>? data)
    {
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var files = new SortedSet<string>(StringComparer.Ordinal);
        var written = ImmutableArray.CreateBuilder<string>();
        var unsafeKeys = ImmutableArray.CreateBuilder<string>();
        foreach (var (key, value) in (data ?? ImmutableDictionary<string, byte[]>.Empty).OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (!IsSafeFileName(key))
            {
                unsafeKeys.Add(key);
                continue;
            }

            files.Add(key);
            var path = Path.Combine(directory, key);
            if (!IsCurrent(path, value))
            {
                WriteAtomically(directory, path, value);
                written.Add(key);
            }
        }

        var removed = ImmutableArray.CreateBuilder<string>();
        foreach (var path in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(path);
            if (!files.Contains(name))
            {
                File.Delete(path);
                removed.Add(name);
            }
        }

        return new([.. files], written.ToImmutable(), removed.ToImmutable(), unsafeKeys.ToImmutable());
    }

    private static bool IsCurrent(string path, byte[] value)
    {
        try
        {
            var info = new FileInfo(path);
            return info.Exists
                && (info.Attributes & FileAttributes.ReparsePoint) == 0
                && info.Length == value.Length
                && File.GetUnixFileMode(path) == ConfigFileMode
                && File.ReadAllBytes(path).AsSpan().SequenceEqual(value);
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    private static void WriteAtomically(string directory, string path, byte[] value)
    {
        // A leading '.' keeps the temporary file out of the remote-cluster scan (and out of the Secret's key space).
        var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = ConfigFileMode }))
            {
                stream.Write(value);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
