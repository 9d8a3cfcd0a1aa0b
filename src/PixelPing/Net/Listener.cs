using System.Net;
using System.Net.Sockets;

namespace PixelPing.Net;

/// <summary>
/// The listening sockets and their accept loops. With no host it listens on every interface through one dual-mode
/// IPv6 socket (IPv4 clients arrive as mapped addresses), or on IPv4 alone where the kernel has no IPv6.
/// </summary>
internal sealed class Listener : IAsyncDisposable
{
    private readonly List<Socket> _sockets;
    private readonly ServerContext _server;
    private readonly List<Task> _loops = [];
    private readonly AcceptErrors _acceptErrors = new();
    private volatile bool _stopping;

    private Listener(List<Socket> sockets, ServerContext server)
    {
        _sockets = sockets;
        _server = server;
    }

    /// <summary>The bound addresses, with the real port when port 0 asked for any free one.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints => _sockets.ConvertAll(s => (IPEndPoint)s.LocalEndPoint!);

    /// <summary>Binds and listens; on failure returns null and one line saying which address and port and why.</summary>
    public static Listener? TryBind(string? host, int port, ServerContext server, out string error) =>
        TryBindSockets(host, port, out error) is { } sockets ? new Listener(sockets, server) : null;

    /// <summary>
    /// <c>--check</c>: whether the address and port can be had now, with the same one line of error as a start;
    /// the sockets are closed again at once.
    /// </summary>
    public static bool CanBind(string? host, int port, out string error)
    {
        List<Socket>? sockets = TryBindSockets(host, port, out error);
        sockets?.ForEach(static socket => socket.Dispose());
        return sockets is not null;
    }

    private static List<Socket>? TryBindSockets(string? host, int port, out string error)
    {
        error = "";
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
                error = $"cannot resolve host \"{host}\": {e.Message}";
                return null;
            }

            addresses = addresses.Where(a => a.AddressFamily == AddressFamily.InterNetwork || Socket.OSSupportsIPv6).Distinct().ToArray();
            if (addresses.Length == 0)
            {
                error = $"host \"{host}\" has no usable address";
                return null;
            }
        }

        var sockets = new List<Socket>();
        foreach (IPAddress address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (address.Equals(IPAddress.IPv6Any))
                {
                    socket.DualMode = true;
                }

                // Port 0 binds the first address to any free port, and the others to that same port.
                int bindPort = port == 0 && sockets.Count > 0 ? ((IPEndPoint)sockets[0].LocalEndPoint!).Port : port;
                socket.Bind(new IPEndPoint(address, bindPort));
                DeferAccept(socket);
                socket.Listen(4096);
                sockets.Add(socket);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                foreach (Socket bound in sockets)
                {
                    bound.Dispose();
                }

                string where = FormatAddress(address, port);
                error = e.SocketErrorCode switch
                {
                    SocketError.AddressAlreadyInUse => $"cannot listen on {where}: port {port} is already in use",
                    SocketError.AccessDenied => $"cannot listen on {where}: permission denied (ports below 1024 need privileges)",
                    SocketError.AddressNotAvailable => $"cannot listen on {where}: address not available on this machine",
                    _ => $"cannot listen on {where}: {e.Message}",
                };
                return null;
            }
        }

        return sockets;
    }

    /// <summary>
    /// TCP_DEFER_ACCEPT: the kernel hands over a connection only once its first bytes have arrived, so accepting
    /// costs no empty read and no extra epoll round trip (a tenth of the work of a Connection: close request).
    /// A connection that never sends is dropped by the kernel after the given seconds.
    /// </summary>
    private static void DeferAccept(Socket socket)
    {
        const int IPPROTO_TCP = 6;
        const int TCP_DEFER_ACCEPT = 9;
        if (OperatingSystem.IsLinux())
        {
            Span<byte> seconds = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(seconds, 10);
            socket.SetRawSocketOption(IPPROTO_TCP, TCP_DEFER_ACCEPT, seconds);
        }
    }

    public static string FormatAddress(IPAddress address, int port) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]:{port}" : $"{address}:{port}";

    public void Start()
    {
        _server.Tracker.StartSweeping(TimeSpan.FromMilliseconds(500));
        foreach (Socket socket in _sockets)
        {
            _loops.Add(Background.Run("accept loop", () => AcceptLoopAsync(socket)));
        }
    }

    private async Task AcceptLoopAsync(Socket listenSocket)
    {
        StatsShard stats = _server.Stats.NewShard();
        while (!_stopping)
        {
            Socket client;
            try
            {
                client = await listenSocket.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception) when (_stopping)
            {
                return;
            }
            catch (SocketException e)
            {
                if (_acceptErrors.Report(e.SocketErrorCode, e.Message, Environment.TickCount64) is { } line)
                {
                    Log.Error(line);
                }

                TimeSpan backoff = AcceptErrors.Backoff(e.SocketErrorCode);
                if (backoff > TimeSpan.Zero)
                {
                    await Task.Delay(backoff).ConfigureAwait(false);
                }

                continue;
            }

            StatsShard.Increment(ref stats.Accepted);
            var connection = new Connection(client, _server, stats);
            if (_stopping || !_server.Tracker.TryAdd(connection))
            {
                // Over the connection cap ("maxconnections" in the README): close at once, count it.
                StatsShard.Increment(ref stats.Refused);
                client.Dispose();
                continue;
            }

            _ = connection.RunAsync();
        }
    }

    /// <summary>Stops accepting: the listening sockets close, open connections carry on.</summary>
    public async Task StopAcceptingAsync()
    {
        _stopping = true;
        foreach (Socket socket in _sockets)
        {
            socket.Dispose();
        }

        await Task.WhenAll(_loops).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAcceptingAsync().ConfigureAwait(false);
        _server.Tracker.CloseAll();
        _server.Tracker.Dispose();
    }
}
