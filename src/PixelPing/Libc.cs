using System.Runtime.InteropServices;
using System.Text;

namespace PixelPing;

/// <summary>
/// The few libc calls the base class library has no way to make: opening a file exclusively without following links
/// with an exact mode, fsync of a directory, access(2), and the open-file limit. Linked straight into the executable
/// (DirectPInvoke in the project file), so they need no dlopen in the static build. Flag values are Linux's, the same
/// on x86-64 and arm64.
/// </summary>
internal static class Libc
{
    public const int OpenReadOnly = 0;
    public const int OpenWriteOnly = 1;
    public const int OpenCreate = 0x40;
    public const int OpenExclusive = 0x80;
    public const int OpenDirectory = 0x10000;
    public const int OpenNoFollow = 0x20000;
    public const int OpenCloseOnExec = 0x80000;

    public const int WriteOk = 2;
    public const int ExecuteOk = 1;

    public const int ELOOP = 40;

    private const int RLIMIT_NOFILE = 7;

    /// <summary>A NUL-terminated UTF-8 copy of a path for the calls below.</summary>
    public static byte[] Path(string path) => Encoding.UTF8.GetBytes(path + "\0");

    /// <summary>strerror's words for an errno ("Permission denied"), which the runtime gives without resource strings.</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    public static bool TryGetFileLimit(out ulong soft, out ulong hard)
    {
        bool ok = getrlimit(RLIMIT_NOFILE, out FileLimit limit) == 0;
        soft = limit.Soft;
        hard = limit.Hard;
        return ok;
    }

    public static bool TrySetFileLimit(ulong soft, ulong hard)
    {
        var limit = new FileLimit { Soft = soft, Hard = hard };
        return setrlimit(RLIMIT_NOFILE, ref limit) == 0;
    }

    [DllImport("libc", SetLastError = true)]
    public static extern int open(byte[] path, int flags, int mode);

    [DllImport("libc", SetLastError = true)]
    public static extern int fsync(int fd);

    [DllImport("libc", SetLastError = true)]
    public static extern int close(int fd);

    [DllImport("libc", SetLastError = true)]
    public static extern int access(byte[] path, int mode);

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out FileLimit limit);

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, ref FileLimit limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct FileLimit
    {
        public ulong Soft;
        public ulong Hard;
    }
}
