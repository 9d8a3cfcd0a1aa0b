using System.Net;
using System.Net.Sockets;
using PixelPing.Counting;
using PixelPing.Http;
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

    private static ServerContext Context(int maxConnections = 64) =>
        new(new PixelApplication(new HitStore(1000), 64),
            new ServerLimits(HttpLimits.Default, HeaderTimeoutMs: 10_000, IdleTimeoutMs: 30_000, MaxConnections: maxConnections));

    private Listener Bind(string? host, ServerContext context, int loops = 1)
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
        Assert.False(Listener.CanBind("127.0.0.1", port, out error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void An_address_of_another_machine_and_an_unknown_host_are_refused_with_the_reason()
    {
        // 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
        Assert.Null(Listener.TryBind("192.0.2.1", 0, Context(), out string error));
        Assert.Equal("cannot listen on 192.0.2.1:0: address not available on this machine", error);

        Assert.False(Listener.CanBind("no-such-host.invalid", 0, out error));
        Assert.StartsWith("cannot resolve host \"no-such-host.invalid\": ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_check_binds_nothing_it_keeps_and_takes_no_connection()
    {
        int port = FreePort();

        Assert.True(Listener.CanBind("127.0.0.1", port, out string error), error);
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
        ServerContext context = Context();
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
