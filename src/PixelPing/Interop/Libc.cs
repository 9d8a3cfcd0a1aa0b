using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace PixelPing.Interop;

/// <summary>
/// The libc calls the base class library has no way to make: opening a file exclusively without following links
/// with an exact mode, fsync of a directory, access(2), flock(2), the open-file limit, and the sockets and epoll of
/// the event loops. Linked straight into the executable (DirectPInvoke in the project file), so they need no dlopen
/// in the static build. Flag values are Linux's, the same on x86-64 and arm64.
/// </summary>
internal static partial class Libc
{
    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_RDWR = 2;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_NONBLOCK = 0x800;
    public const int O_DIRECTORY = 0x10000;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_CLOEXEC = 0x80000;

    public const int W_OK = 2;
    public const int X_OK = 1;

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

    [LibraryImport("libc", SetLastError = true)]
    public static partial int open(byte[] path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int access(byte[] path, int mode);

    // ---- The spool's lock and the flags of passed-in sockets (Flushing/SpoolLock.cs, Net/Listener.cs) ----

    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;
    public const int F_GETFD = 1;
    public const int F_SETFD = 2;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int FD_CLOEXEC = 1;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    /// <summary>fcntl(2) with an int argument (or none: the argument is then ignored).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out FileLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, ref FileLimit limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct FileLimit
    {
        public ulong Soft;
        public ulong Hard;
    }

    // ---- Sockets and epoll, for the event loops (Net/EventLoop.cs) ----

    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int SOCK_STREAM = 1;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_REUSEPORT = 15;
    public const int SO_TYPE = 3;
    public const int SO_ACCEPTCONN = 30;
    public const int SO_DOMAIN = 39;
    public const int IPPROTO_TCP = 6;
    public const int IPPROTO_IPV6 = 41;
    public const int TCP_NODELAY = 1;
    public const int TCP_DEFER_ACCEPT = 9;
    public const int IPV6_V6ONLY = 26;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int SHUT_WR = 1;
    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;
    public const int EPOLL_CLOEXEC = 0x80000;

    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLEXCLUSIVE = 1u << 28;
    public const uint EPOLLET = 1u << 31;

    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int ENOTDIR = 20;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int ELOOP = 40;
    public const int EPROTO = 71;
    public const int ENOTSOCK = 88;
    public const int EADDRINUSE = 98;
    public const int EADDRNOTAVAIL = 99;
    public const int ECONNABORTED = 103;
    public const int ENOBUFS = 105;

    /// <summary>
    /// <c>struct epoll_event</c> is packed on x86-64 (12 bytes: events, then the 64-bit data at offset 4) and naturally
    /// aligned elsewhere (16 bytes, data at offset 8); the loops read and write it as bytes at these offsets.
    /// </summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    private static readonly int s_epollDataOffset = EpollEventSize == 12 ? 4 : 8;

    public static int Errno => Marshal.GetLastPInvokeError();

    public static uint EventMask(ReadOnlySpan<byte> events, int i) =>
        BinaryPrimitives.ReadUInt32LittleEndian(events[(i * EpollEventSize)..]);

    public static ulong EventData(ReadOnlySpan<byte> events, int i) =>
        BinaryPrimitives.ReadUInt64LittleEndian(events[((i * EpollEventSize) + s_epollDataOffset)..]);

    /// <summary>Adds or changes the registration of <paramref name="fd"/>; 0 or -1 with errno.</summary>
    public static int EpollControl(int epoll, int op, int fd, uint events, ulong data)
    {
        Span<byte> ev = stackalloc byte[16];
        ev.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(ev, events);
        BinaryPrimitives.WriteUInt64LittleEndian(ev[s_epollDataOffset..], data);
        return epoll_ctl(epoll, op, fd, ev);
    }

    public static int SetOption(int fd, int level, int name, int value) => setsockopt(fd, level, name, ref value, sizeof(int));

    /// <summary>An int socket option; -1 with errno (ENOTSOCK for a descriptor that is not a socket).</summary>
    public static int GetOption(int fd, int level, int name, out int value)
    {
        value = 0;
        int length = sizeof(int);
        return getsockopt(fd, level, name, ref value, ref length);
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, ref int value, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockopt(int fd, int level, int name, ref int value, ref int length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int bind(int fd, ReadOnlySpan<byte> address, int length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int listen(int fd, int backlog);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockname(int fd, Span<byte> address, ref int length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int accept4(int fd, Span<byte> address, ref int length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recv(int fd, Span<byte> buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint send(int fd, ReadOnlySpan<byte> buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int shutdown(int fd, int how);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epoll, int op, int fd, ReadOnlySpan<byte> ev);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_wait(int epoll, Span<byte> events, int maxEvents, int timeoutMs);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, ref ulong value, nint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, ref ulong value, nint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sched_getaffinity(int pid, nint size, Span<byte> mask);
}
