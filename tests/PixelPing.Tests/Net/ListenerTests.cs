using System.Net;
using System.Net.Sockets;
using PixelPing.Counting;
using PixelPing.Http;
using PixelPing.Interop;
using PixelPing.Net;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Net;

/// <summary>The listening port itself: binding (port 0, host names, the one line when it fails), the check, stopping and draining.</summary>
public sealed class ListenerTests : IAsyncLifetime
{
    private readonly List<Listener> _listeners = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (Listener listener in _listeners)
        {
            await listener.DisposeAsync();
        }
    }

    private static ListenerContext Context(int maxConnections = 64) =>
        new(new PixelApplication(new HitStore(1000), 64),
            new ListenerLimits(HttpLimits.Default, HeaderTimeoutMs: 10_000, IdleTimeoutMs: 30_000, MaxConnections: maxConnections));

    private Listener Bind(string? host, ListenerContext context, int loops = 1)
    {
        Listener? listener = Listener.TryBind(host, 0, context, out string error, loops);
        Assert.True(listener is not null, error);
        Assert.Equal("", error);
        _listeners.Add(listener);
        return listener;
    }

    /// <summary>A port nobody listens on now: bound to any free one, then let go.</summary>
    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    [Fact]
    public void Port_0_binds_one_free_port_that_every_loop_serves()
    {
        Listener listener = Bind("127.0.0.1", Context(), loops: 3);
        listener.Start();

        IPEndPoint endPoint = Assert.Single(listener.EndPoints);
        Assert.Equal(IPAddress.Loopback, endPoint.Address);
        Assert.NotEqual(0, endPoint.Port);
        // The kernel picks a loop for each connection; every one of them answers.
        for (int i = 0; i < 12; i++)
        {
            using var client = new RawHttpClient(endPoint.Port);
            Assert.Equal(200, client.Request("/pixel.gif?key=k").Status);
        }
    }

    [Fact]
    public void A_host_name_binds_each_of_its_addresses_on_the_same_port()
    {
        Listener listener = Bind("localhost", Context());
        listener.Start();

        Assert.Contains(listener.EndPoints, e => e.Address.Equals(IPAddress.Loopback));
        Assert.Single(listener.EndPoints.Select(e => e.Port).Distinct());
        using var client = new RawHttpClient(listener.EndPoints[0].Port);
        Assert.Equal(200, client.Request("/pixel.gif").Status);
    }

    [Fact]
    public void A_port_in_use_is_refused_in_one_line_naming_the_address_and_the_port()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        string expected = $"cannot listen on 127.0.0.1:{port}: port {port} is already in use";

        Assert.Null(Listener.TryBind("127.0.0.1", port, Context(), out string error, loops: 2));
        Assert.Equal(expected, error);
        Assert.False(Listener.CanBind("127.0.0.1", port, null, out error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void A_second_listener_on_the_port_of_a_running_one_is_refused_and_the_first_keeps_every_connection()
    {
        ListenerContext first = Context();
        Listener running = Bind("127.0.0.1", first, loops: 2);
        running.Start();
        int port = running.EndPoints[0].Port;
        string expected = $"cannot listen on 127.0.0.1:{port}: port {port} is already in use";

        // Both would form SO_REUSEPORT groups of their loops' sockets; the second must not join the first's.
        ListenerContext second = Context();
        Assert.Null(Listener.TryBind("127.0.0.1", port, second, out string error, loops: 2));
        Assert.Equal(expected, error);
        Assert.False(Listener.CanBind("127.0.0.1", port, null, out error));
        Assert.Equal(expected, error);
        for (int i = 0; i < 20; i++)
        {
            using var client = new RawHttpClient(port);
            Assert.Equal(200, client.Request("/pixel.gif?key=k").Status);
        }

        Assert.Equal(20, first.Stats.Read().Pixels);
        Assert.Equal(0, second.Stats.Read().Pixels);
    }

    [Fact]
    public void A_port_held_by_any_SO_REUSEPORT_socket_of_this_user_is_refused()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.SetRawSocketOption(Libc.SOL_SOCKET, Libc.SO_REUSEPORT, BitConverter.GetBytes(1));
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;

        Assert.Null(Listener.TryBind("127.0.0.1", port, Context(), out string error, loops: 2));
        Assert.Equal($"cannot listen on 127.0.0.1:{port}: port {port} is already in use", error);
    }

    [Fact]
    public void The_check_refuses_a_status_address_that_a_pixel_address_of_a_host_name_holds()
    {
        int port = FreePort();

        Assert.False(Listener.CanBind("localhost", port, new IPEndPoint(IPAddress.Loopback, port), out string error));
        Assert.Equal($"\"status\": cannot listen on 127.0.0.1:{port}: port {port} is already in use", error);
        Assert.True(Listener.CanBind("localhost", port, new IPEndPoint(IPAddress.Loopback, 0), out error), error);
    }

    [Fact]
    public async Task Passed_in_sockets_are_served_by_every_loop_and_after_a_stop_their_queue_waits_for_the_next_listener()
    {
        // The test's socket plays the service manager's copy: open all along, so the port never refuses.
        using var held = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        held.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        held.Listen(64);
        int port = ((IPEndPoint)held.LocalEndPoint!).Port;
        ListenerContext old = Context();
        Listener first = Listener.FromInherited([Duplicate(held)], old, loops: 3);
        _listeners.Add(first);
        first.Start();

        Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), Assert.Single(first.EndPoints));
        for (int i = 0; i < 12; i++)
        {
            using var client = new RawHttpClient(port);
            Assert.Equal(200, client.Request("/pixel.gif?key=k").Status);
        }

        await first.StopAcceptingAsync();

        using var waiting = new RawHttpClient(port);
        waiting.Send(RawHttpClient.Get("/pixel.gif?key=queued"));
        ListenerContext next = Context();
        Listener second = Listener.FromInherited([Duplicate(held)], next, loops: 2);
        _listeners.Add(second);
        second.Start();
        Assert.Equal(200, waiting.Read().Status);
        Assert.Equal(12, old.Stats.Read().Pixels);
        Assert.Equal(1, next.Stats.Read().Pixels);
    }

    /// <summary>A descriptor of its own for the socket (close-on-exec, as the listener makes a passed one).</summary>
    private static int Duplicate(Socket socket)
    {
        int fd = Libc.fcntl((int)socket.Handle, F_DUPFD_CLOEXEC, 3);
        Assert.True(fd >= 0, "fcntl(F_DUPFD_CLOEXEC) failed: " + Libc.Describe(Libc.Errno));
        return fd;
    }

    private const int F_DUPFD_CLOEXEC = 1030;

    [Fact]
    public void An_address_of_another_machine_and_an_unknown_host_are_refused_with_the_reason()
    {
        // 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
        Assert.Null(Listener.TryBind("192.0.2.1", 0, Context(), out string error));
        Assert.Equal("cannot listen on 192.0.2.1:0: address not available on this machine", error);

        Assert.False(Listener.CanBind("no-such-host.invalid", 0, null, out error));
        Assert.StartsWith("cannot resolve host \"no-such-host.invalid\": ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_check_binds_nothing_it_keeps_and_takes_no_connection()
    {
        int port = FreePort();

        Assert.True(Listener.CanBind("127.0.0.1", port, null, out string error), error);
        Assert.Equal("", error);
        // Let go at once: the port can be had again, and nothing answers on it meanwhile.
        using (var again = new TcpListener(IPAddress.Loopback, port))
        {
            again.Start();
        }

        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketException refused = Assert.Throws<SocketException>(() => probe.Connect(IPAddress.Loopback, port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Theory]
    [InlineData("127.0.0.1", 8080, "127.0.0.1:8080")]
    [InlineData("::1", 443, "[::1]:443")]
    [InlineData("::", 80, "[::]:80")]
    public void Addresses_are_written_with_brackets_around_IPv6(string address, int port, string expected)
    {
        Assert.Equal(expected, Listener.FormatAddress(IPAddress.Parse(address), port));
    }

    [Fact]
    public async Task After_stop_accepting_new_connections_are_refused_and_open_ones_carry_on()
    {
        Listener listener = Bind("127.0.0.1", Context(), loops: 2);
        listener.Start();
        int port = listener.EndPoints[0].Port;
        using var open = new RawHttpClient(port);
        Assert.Equal(200, open.Request("/pixel.gif?key=a").Status);

        await listener.StopAcceptingAsync();

        using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketException refused = Assert.Throws<SocketException>(() => late.Connect(IPAddress.Loopback, port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.Equal(200, open.Request("/pixel.gif?key=a").Status);
    }

    [Fact]
    public async Task Draining_closes_idle_keep_alive_connections_and_leaves_none_open()
    {
        ListenerContext context = Context();
        Listener listener = Bind("127.0.0.1", context, loops: 2);
        listener.Start();
        var clients = new List<RawHttpClient>();
        for (int i = 0; i < 4; i++)
        {
            var client = new RawHttpClient(listener.EndPoints[0].Port);
            clients.Add(client);
            Assert.Equal(200, client.Request("/pixel.gif?key=idle").Status);
        }

        Assert.Equal(4, context.Tracker.Open);

        await listener.DrainAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(0, context.Tracker.Open);
        Assert.True(context.Tracker.Draining);
        Assert.All(clients, c => Assert.True(c.IsClosedByServer()));
        clients.ForEach(c => c.Dispose());
    }
}
