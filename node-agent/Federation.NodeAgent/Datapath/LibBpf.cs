using System.Runtime.InteropServices;

namespace Federation.NodeAgent.Datapath;

/// <summary>
/// The part of libbpf 1.1 (and libc) the datapath uses. libbpf 1.x returns negative errno values
/// from the low-level bpf_* calls and NULL (with errno set) from the object API.
/// </summary>
internal static unsafe partial class LibBpf
{
    private const string Lib = "libbpf.so.1";
    private const string LibC = "libc";

    public const int ENOENT = 2;
    public const ulong BPF_ANY = 0;

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial nint bpf_object__open_file(string path, nint opts);

    [LibraryImport(Lib)]
    public static partial int bpf_object__load(nint obj);

    [LibraryImport(Lib)]
    public static partial void bpf_object__close(nint obj);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint bpf_object__find_program_by_name(nint obj, string name);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint bpf_object__find_map_by_name(nint obj, string name);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int bpf_map__set_pin_path(nint map, string path);

    [LibraryImport(Lib)]
    public static partial int bpf_program__fd(nint prog);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint bpf_program__attach_cgroup(nint prog, int cgroupFd);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int bpf_link__pin(nint link, string path);

    [LibraryImport(Lib)]
    public static partial int bpf_link__destroy(nint link);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int bpf_obj_get(string path);

    [LibraryImport(Lib)]
    public static partial int bpf_obj_get_info_by_fd(int fd, void* info, uint* infoLen);

    [LibraryImport(Lib)]
    public static partial int bpf_link_detach(int linkFd);

    [LibraryImport(Lib)]
    public static partial int bpf_link_update(int linkFd, int newProgFd, nint opts);

    [LibraryImport(Lib)]
    public static partial int bpf_map_update_elem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Lib)]
    public static partial int bpf_map_lookup_elem(int fd, void* key, void* value);

    [LibraryImport(Lib)]
    public static partial int bpf_map_delete_elem(int fd, void* key);

    [LibraryImport(Lib)]
    public static partial int bpf_map_get_next_key(int fd, void* key, void* nextKey);

    [LibraryImport(Lib)]
    public static partial int libbpf_num_possible_cpus();

    [LibraryImport(LibC, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags);

    [LibraryImport(LibC, EntryPoint = "close")]
    public static partial int Close(int fd);

    [LibraryImport(LibC, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);

    public const int O_RDONLY = 0;
    public const int O_DIRECTORY = 0x10000;
    public const int O_CLOEXEC = 0x80000;

    /// <summary>The inode number of a path: for a cgroup v2 directory, that is the cgroup id.</summary>
    public static ulong InodeOf(string path)
    {
        const int AtFdCwd = -100;
        const uint StatxIno = 0x100;
        var buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, 0, StatxIno, buffer) != 0)
        {
            throw new BpfException($"statx {path}", -Marshal.GetLastPInvokeError());
        }

        // struct statx: stx_ino is at offset 32 on every architecture.
        return *(ulong*)(buffer + 32);
    }
}

/// <summary>A libbpf or bpf() call that failed; <see cref="Errno"/> is the positive errno.</summary>
internal sealed class BpfException(string operation, int result)
    : Exception($"{operation} failed: {Marshal.GetPInvokeErrorMessage(Math.Abs(result))} (errno {Math.Abs(result)})")
{
    public int Errno { get; } = Math.Abs(result);
}
