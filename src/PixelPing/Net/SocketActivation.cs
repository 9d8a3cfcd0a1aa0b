using System.Globalization;
using PixelPing.Interop;
using static PixelPing.Common.Quoting;

namespace PixelPing.Net;

/// <summary>
/// Listening sockets passed in by a service manager (systemd's socket activation, the protocol of sd_listen_fds(3)):
/// <c>LISTEN_FDS</c> descriptors from 3 on, meant for the process whose PID is <c>LISTEN_PID</c>, named by
/// <c>LISTEN_FDNAMES</c>. The service manager keeps its own copies open across a restart, so connections that arrive
/// while no process accepts wait in the socket's queue instead of being refused.
/// </summary>
/// <remarks>
/// Names: a descriptor named <c>status</c> serves /livez, /readyz and /metrics, one named <c>pixel</c> the pixels.
/// When no descriptor has either name (none given, or systemd's default, the socket unit's name), every one serves
/// the pixels. Several of one name are served together, as the addresses of a host name are.
/// </remarks>
internal sealed class SocketActivation
{
    // SD_LISTEN_FDS_START: the first passed descriptor follows stdin, stdout and stderr.
    private const int FirstDescriptor = 3;

    // Far more than any socket unit passes; a larger count is a garbled variable, not sockets.
    private const int MaxDescriptors = 64;

    private SocketActivation(int[] pixel, int[] status)
    {
        Pixel = pixel;
        Status = status;
    }

    /// <summary>The pixel port's listening sockets: at least one.</summary>
    public int[] Pixel { get; }

    /// <summary>The status listener's sockets; empty when none was passed (the config's "status", if any, is bound).</summary>
    public int[] Status { get; }

    public int Count => Pixel.Length + Status.Length;

    /// <summary>
    /// Reads the <c>LISTEN_*</c> variables and unsets them, so that no child process takes them for its own. Null
    /// with no error when no sockets were passed to this process (a warning when they were meant for another); null
    /// and one line of error when they cannot be served. Each descriptor is checked: a stream socket, IPv4 or IPv6,
    /// listening (<see cref="Listener.FromInherited"/> makes it nonblocking and close-on-exec).
    /// </summary>
    public static SocketActivation? Take(out string error, List<string> warnings)
    {
        error = "";
        string? count = Environment.GetEnvironmentVariable("LISTEN_FDS");
        string? pid = Environment.GetEnvironmentVariable("LISTEN_PID");
        string? names = Environment.GetEnvironmentVariable("LISTEN_FDNAMES");
        // Unset in the runtime's copy of the environment, which is what a process started from here inherits.
        foreach (string name in (ReadOnlySpan<string>)["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"])
        {
            Environment.SetEnvironmentVariable(name, null);
        }

        if (string.IsNullOrEmpty(count))
        {
            return null;
        }

        string own = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (pid != own)
        {
            // As sd_listen_fds(3): the sockets are for another process, usually a shell between the service manager
            // and this one; said, because the start then binds "host" and "port" itself.
            warnings.Add(string.IsNullOrEmpty(pid)
                ? "LISTEN_FDS is set without LISTEN_PID; the sockets passed in are ignored"
                : $"LISTEN_FDS is meant for process {Quote(pid)}, not this one ({own}); the sockets passed in are ignored (start pixel-ping with exec)");
            return null;
        }

        if (!int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n > MaxDescriptors)
        {
            error = $"socket activation: LISTEN_FDS is {Quote(count)}, not a number of descriptors";
            return null;
        }

        if (n == 0)
        {
            return null;
        }

        string[] named = string.IsNullOrEmpty(names) ? [] : names.Split(':');
        if (named.Length > 0 && named.Length != n)
        {
            error = $"socket activation: LISTEN_FDNAMES names {named.Length} descriptors and LISTEN_FDS passes {n}";
            return null;
        }

        bool byName = named.Any(static name => name is "pixel" or "status");
        var pixel = new List<int>();
        var status = new List<int>();
        for (int i = 0; i < n; i++)
        {
            int fd = FirstDescriptor + i;
            string name = named.Length > 0 ? named[i] : "";
            string which = name.Length > 0 ? $"descriptor {fd} ({Quote(name)})" : $"descriptor {fd}";
            if (byName && name is not ("pixel" or "status"))
            {
                error = $"socket activation: {which}: name the sockets \"pixel\" and \"status\" (FileDescriptorName= in the socket unit)";
                return null;
            }

            if (Problem(fd) is { } problem)
            {
                error = $"socket activation: {which} {problem}";
                return null;
            }

            (name == "status" ? status : pixel).Add(fd);
        }

        if (pixel.Count == 0)
        {
            error = "socket activation: only \"status\" sockets were passed; pass the pixel port's socket too, named \"pixel\"";
            return null;
        }

        return new SocketActivation([.. pixel], [.. status]);
    }

    /// <summary>Why a passed descriptor cannot be served, or null.</summary>
    private static string? Problem(int fd)
    {
        if (Libc.fcntl(fd, Libc.F_GETFD, 0) < 0)
        {
            return "is not open";
        }

        if (Libc.GetOption(fd, Libc.SOL_SOCKET, Libc.SO_TYPE, out int type) < 0)
        {
            int errno = Libc.Errno;
            return errno == Libc.ENOTSOCK ? "is not a socket" : "cannot be read as a socket: " + Libc.Describe(errno);
        }

        if (type != Libc.SOCK_STREAM)
        {
            return "is not a stream socket (ListenStream= in the socket unit)";
        }

        if (Libc.GetOption(fd, Libc.SOL_SOCKET, Libc.SO_DOMAIN, out int domain) < 0 || domain is not (Libc.AF_INET or Libc.AF_INET6))
        {
            return "is not an IPv4 or IPv6 socket";
        }

        if (Libc.GetOption(fd, Libc.SOL_SOCKET, Libc.SO_ACCEPTCONN, out int listening) < 0 || listening == 0)
        {
            return "is not listening (Accept=no in the socket unit)";
        }

        return null;
    }
}
