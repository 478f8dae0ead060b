using System.Runtime.InteropServices;

namespace Federation.Etcd.Tests.Infrastructure;

/// <summary>Sends signals to other processes; .NET can only SIGKILL them (Process.Kill).</summary>
internal static class PosixSignal
{
    public const int Term = 15;
    public const int Kill = 9;
    public const int Stop = 19;
    public const int Continue = 18;

    private const int NoSuchProcess = 3; // ESRCH

    /// <summary>Sends <paramref name="signal"/>; returns false when the process no longer exists.</summary>
    public static bool Send(int pid, int signal)
    {
        if (SysKill(pid, signal) == 0)
        {
            return true;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno == NoSuchProcess
            ? false
            : throw new InvalidOperationException($"kill({pid}, {signal}) failed with errno {errno}.");
    }

    // DllImport rather than LibraryImport: the source-generated form needs AllowUnsafeBlocks in the csproj.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);
}
