using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using PixelPing.Interop;

namespace PixelPing.Net;

/// <summary>
/// The listening port, served by one <see cref="EventLoop"/> per CPU the process may run on, each with its own
/// <c>SO_REUSEPORT</c> listening socket per address so that the kernel spreads new connections (and their TLS
/// handshakes) over the cores. With no host it listens on every interface through dual-mode IPv6 sockets (IPv4
/// clients arrive as mapped addresses), or on IPv4 alone where the kernel has no IPv6. Sockets passed in by the
/// service manager (<see cref="SocketActivation"/>) are served instead by every loop at once.
/// </summary>
internal sealed class Listener : IAsyncDisposable
{
    private readonly EventLoop[] _loops;
    private readonly ListenerContext _server;
    private readonly int[] _shared;
    private int _started;
    private int _sharedClosed;

    private Listener(EventLoop[] loops, ListenerContext server, List<IPEndPoint> endPoints, int[] shared)
    {
        _loops = loops;
        _server = server;
        EndPoints = endPoints;
        _shared = shared;
    }

    /// <summary>The bound addresses, with the real port when port 0 asked for any free one.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints { get; }

    /// <summary>
    /// Binds and listens with one event loop per usable CPU, or <paramref name="loops"/> when given (a small side
    /// port needs one); on failure returns null and one line saying which address and port and why.
    /// </summary>
    public static Listener? TryBind(string? host, int port, ListenerContext server, out string error, int loops = 0)
    {
        int loopCount = loops > 0 ? loops : UsableCpus();
        if (TryBindSockets(host, port, loopCount, out error, out List<IPEndPoint> endPoints) is not { } sockets)
        {
            return null;
        }

        var eventLoops = new EventLoop[loopCount];
        var acceptErrors = new AcceptErrors();
        for (int i = 0; i < loopCount; i++)
        {
            eventLoops[i] = new EventLoop(server, acceptErrors, sockets[i], i, shared: false);
        }

        return new Listener(eventLoops, server, endPoints, shared: []);
    }

    /// <summary>
    /// Serves listening sockets the service manager passed in (already checked by <see cref="SocketActivation"/>):
    /// nothing is bound, and every loop watches every socket, woken one at a time (<c>EPOLLEXCLUSIVE</c>) instead of
    /// all at once for each new connection. The sockets are closed when accepting stops; the service manager keeps
    /// its own copies, so connections that arrive meanwhile wait in their queue for the next process.
    /// </summary>
    public static Listener FromInherited(int[] sockets, ListenerContext server, int loops = 0)
    {
        int loopCount = loops > 0 ? loops : UsableCpus();
        var endPoints = new List<IPEndPoint>();
        foreach (int fd in sockets)
        {
            endPoints.Add(LocalEndPoint(fd));
            // Nonblocking: more than one loop may be woken for a connection that only one of them gets, and the
            // others' accept must return EAGAIN. The flag is on the socket itself, which the service manager's copy
            // shares; it does not mind. Close-on-exec: nothing started from here keeps the port open.
            Libc.fcntl(fd, Libc.F_SETFL, Libc.fcntl(fd, Libc.F_GETFL, 0) | Libc.O_NONBLOCK);
            Libc.fcntl(fd, Libc.F_SETFD, Libc.FD_CLOEXEC);
            // As on the sockets bound here (see OpenListeningSocket), whatever the unit's DeferAcceptSec= says.
            Libc.SetOption(fd, Libc.IPPROTO_TCP, Libc.TCP_DEFER_ACCEPT, 10);
        }

        var eventLoops = new EventLoop[loopCount];
        var acceptErrors = new AcceptErrors();
        for (int i = 0; i < loopCount; i++)
        {
            eventLoops[i] = new EventLoop(server, acceptErrors, sockets, i, shared: true);
        }

        return new Listener(eventLoops, server, endPoints, sockets);
    }

    /// <summary>
    /// <c>--check</c>: whether the pixel addresses and then, while they are held as the start holds them, the status
    /// address (when given) can be had now, with the same one line of error as a start (the status address's prefixed
    /// <c>"status": </c>). Each address gets the start's first socket, bound and listening without SO_REUSEPORT, so
    /// that whatever refuses the start refuses the check; every socket is closed again at once.
    /// </summary>
    public static bool CanBind(string? host, int port, IPEndPoint? status, out string error)
    {
        int[][]? pixel = TryBindSockets(host, port, 1, out error, out _);
        if (pixel is null)
        {
            return false;
        }

        int[][]? side = status is null ? [] : TryBindSockets(status.Address.ToString(), status.Port, 1, out error, out _);
        if (side is null)
        {
            error = "\"status\": " + error;
        }

        foreach (int fd in pixel[0].Concat(side?.SelectMany(s => s) ?? []))
        {
            Libc.close(fd);
        }

        return side is not null;
    }

    /// <summary>For each loop, one listening socket per address of <paramref name="host"/>; null and a line of error on failure.</summary>
    private static int[][]? TryBindSockets(string? host, int port, int loopCount, out string error, out List<IPEndPoint> endPoints)
    {
        error = "";
        endPoints = [];
        IPAddress[] addresses;
        if (host is null)
        {
            addresses = Socket.OSSupportsIPv6 ? [IPAddress.IPv6Any] : [IPAddress.Any];
        }
        else if (IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                addresses = Dns.GetHostAddresses(host);
            }
            catch (SocketException e)
            {
                error = $"cannot resolve host {Quoting.Quote(host)}: {e.Message}";
                return null;
            }

            addresses = addresses.Where(a => a.AddressFamily == AddressFamily.InterNetwork || Socket.OSSupportsIPv6).Distinct().ToArray();
            if (addresses.Length == 0)
            {
                error = $"host \"{host}\" has no usable address";
                return null;
            }
        }

        var sockets = new int[loopCount][];
        for (int i = 0; i < loopCount; i++)
        {
            sockets[i] = new int[addresses.Length];
        }

        for (int a = 0; a < addresses.Length; a++)
        {
            // Port 0 binds the first socket to any free port, and every other socket to that same port.
            int bindPort = port == 0 && endPoints.Count > 0 ? endPoints[0].Port : port;
            for (int i = 0; i < loopCount; i++)
            {
                // The first socket of an address binds and listens without SO_REUSEPORT, so it fails while any other
                // socket listens on the port, another process's SO_REUSEPORT group included; only once it listens
                // does it take SO_REUSEPORT and admit the other loops' sockets. Two starts racing each other: of two
                // bound sockets, listen(2) fails for the second (EADDRINUSE) as bind(2) would.
                int fd = OpenListeningSocket(addresses[a], bindPort, reusePort: i > 0, out int errno);
                if (fd < 0)
                {
                    foreach (int[] bound in sockets)
                    {
                        foreach (int open in bound)
                        {
                            if (open > 0)
                            {
                                Libc.close(open);
                            }
                        }
                    }

                    string where = FormatAddress(addresses[a], port);
                    error = errno switch
                    {
                        Libc.EADDRINUSE => $"cannot listen on {where}: port {port} is already in use",
                        Libc.EACCES => $"cannot listen on {where}: permission denied (ports below 1024 need privileges)",
                        Libc.EADDRNOTAVAIL => $"cannot listen on {where}: address not available on this machine",
                        _ => $"cannot listen on {where}: {Libc.Describe(errno)}",
                    };
                    return null;
                }

                sockets[i][a] = fd;
                if (i == 0)
                {
                    bindPort = LocalEndPoint(fd).Port;
                    endPoints.Add(new IPEndPoint(addresses[a], bindPort));
                    if (loopCount > 1)
                    {
                        Libc.SetOption(fd, Libc.SOL_SOCKET, Libc.SO_REUSEPORT, 1);
                    }
                }
            }
        }

        return sockets;
    }

    /// <summary>The CPUs this process may run on (<c>sched_getaffinity</c>: taskset, cpusets), one loop each.</summary>
    private static int UsableCpus()
    {
        Span<byte> mask = stackalloc byte[128];
        mask.Clear();
        if (Libc.sched_getaffinity(0, mask.Length, mask) < 0)
        {
            return Environment.ProcessorCount;
        }

        int count = 0;
        foreach (byte b in mask)
        {
            count += System.Numerics.BitOperations.PopCount(b);
        }

        return Math.Max(1, count);
    }

    /// <summary>A nonblocking listening socket, or -1 with the errno of the step that failed.</summary>
    private static int OpenListeningSocket(IPAddress address, int port, bool reusePort, out int errno)
    {
        bool v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        int fd = Libc.socket(v6 ? Libc.AF_INET6 : Libc.AF_INET, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            errno = Libc.Errno;
            return -1;
        }

        Span<byte> sockaddr = stackalloc byte[28];
        sockaddr.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(sockaddr, (ushort)(v6 ? Libc.AF_INET6 : Libc.AF_INET));
        BinaryPrimitives.WriteUInt16BigEndian(sockaddr[2..], (ushort)port);
        if (v6)
        {
            address.TryWriteBytes(sockaddr[8..24], out _);
            BinaryPrimitives.WriteUInt32LittleEndian(sockaddr[24..], (uint)address.ScopeId);
            // Dual mode on the any-address: IPv4 clients too.
            Libc.SetOption(fd, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, address.Equals(IPAddress.IPv6Any) ? 0 : 1);
        }
        else
        {
            address.TryWriteBytes(sockaddr[4..8], out _);
        }

        // SO_REUSEADDR: a restart binds at once despite connections in TIME_WAIT. SO_REUSEPORT: one socket per loop
        // on the same port, the kernel choosing a loop for each new connection.
        Libc.SetOption(fd, Libc.SOL_SOCKET, Libc.SO_REUSEADDR, 1);
        if (reusePort)
        {
            Libc.SetOption(fd, Libc.SOL_SOCKET, Libc.SO_REUSEPORT, 1);
        }

        // TCP_DEFER_ACCEPT: the kernel hands over a connection only once its first bytes have arrived, so accepting
        // costs no empty read and no extra epoll round trip (a tenth of the work of a Connection: close request).
        // A connection that never sends is dropped by the kernel after the given seconds.
        Libc.SetOption(fd, Libc.IPPROTO_TCP, Libc.TCP_DEFER_ACCEPT, 10);
        if (Libc.bind(fd, sockaddr, v6 ? 28 : 16) < 0 || Libc.listen(fd, 4096) < 0)
        {
            errno = Libc.Errno;
            Libc.close(fd);
            return -1;
        }

        errno = 0;
        return fd;
    }

    /// <summary>The address and port a socket is bound to (getsockname: the real port after a bind to port 0).</summary>
    private static IPEndPoint LocalEndPoint(int fd)
    {
        Span<byte> sockaddr = stackalloc byte[28];
        sockaddr.Clear();
        int length = sockaddr.Length;
        Libc.getsockname(fd, sockaddr, ref length);
        int port = BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]);
        return BinaryPrimitives.ReadUInt16LittleEndian(sockaddr) == Libc.AF_INET6
            ? new IPEndPoint(new IPAddress(sockaddr[8..24], BinaryPrimitives.ReadUInt32LittleEndian(sockaddr[24..])), port)
            : new IPEndPoint(new IPAddress(sockaddr[4..8]), port);
    }

    public static string FormatAddress(IPAddress address, int port) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]:{port}" : $"{address}:{port}";

    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            foreach (EventLoop loop in _loops)
            {
                loop.Start();
            }
        }
    }

    /// <summary>Stops accepting: the listening sockets close, open connections carry on.</summary>
    public async Task StopAcceptingAsync()
    {
        await OnEveryLoop(static loop => loop.StopAccepting()).ConfigureAwait(false);
        CloseShared();
    }

    /// <summary>Inherited sockets are watched by every loop: closed once, after no loop watches them any more.</summary>
    private void CloseShared()
    {
        if (Interlocked.Exchange(ref _sharedClosed, 1) == 0)
        {
            foreach (int fd in _shared)
            {
                Libc.close(fd);
            }
        }
    }

    /// <summary>
    /// Shutdown: idle connections close now, busy ones after the request in hand; whatever is still open when the
    /// timeout passes is closed.
    /// </summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        _server.Tracker.BeginDrain();
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (_server.Tracker.Open > 0 && Environment.TickCount64 < deadline)
        {
            await OnEveryLoop(static loop => loop.Sweep()).ConfigureAwait(false);
            if (_server.Tracker.Open > 0)
            {
                await Task.Delay(20).ConfigureAwait(false);
            }
        }

        await OnEveryLoop(static loop => loop.AbortAll()).ConfigureAwait(false);
    }

    private Task OnEveryLoop(Action<EventLoop> command) =>
        Task.WhenAll(_loops.Select(loop => loop.InvokeAsync(() => command(loop))));

    public async ValueTask DisposeAsync()
    {
        // Stops every loop (never started ones too: their sockets close all the same).
        Start();
        await Task.WhenAll(_loops.Select(loop => loop.StopAsync())).ConfigureAwait(false);
        CloseShared();
    }
}
