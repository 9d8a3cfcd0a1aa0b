using System.Net;
using System.Net.Sockets;
using System.Text;
using PixelPing.Counting;
using PixelPing.Http;
using PixelPing.Net;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Net;

/// <summary>
/// The event loop itself, on one loop (so every connection of a test shares it): writes the socket cannot take at
/// once, peers that reset, thousands of idle connections, and no allocation per keep-alive request.
/// </summary>
public sealed class EventLoopTests : IAsyncLifetime
{
    // Far more than loopback's largest send buffer (tcp_wmem's maximum, 4 MiB by default) plus the client's small
    // receive buffer: the loop's first send of it is certainly short.
    private const int BigBodyLength = 16 << 20;
    private static readonly byte[] s_big = BigAnswer();

    private readonly List<IAsyncDisposable> _listeners = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable listener in _listeners)
        {
            await listener.DisposeAsync();
        }
    }

    /// <summary>"/big" answers 16 MiB; everything else goes to the pixel application.</summary>
    private sealed class BigOrPixel(IRequestHandler pixel) : IRequestHandler
    {
        public byte[] Handle(in HttpRequest request, StatsShard stats) =>
            request.Head.StartsWith("GET /big "u8) ? s_big : pixel.Handle(request, stats);
    }

    /// <summary>The pixel application, with a bug: "/boom" throws.</summary>
    private sealed class ThrowsOnBoom(IRequestHandler pixel) : IRequestHandler
    {
        public byte[] Handle(in HttpRequest request, StatsShard stats) =>
            request.Head.StartsWith("GET /boom "u8) ? throw new InvalidOperationException("a bug in the handler") : pixel.Handle(request, stats);
    }

    /// <summary>The pixel application, noting how much its loop's thread had allocated when each request came.</summary>
    private sealed class AllocationProbe(IRequestHandler pixel) : IRequestHandler
    {
        public readonly List<long> AllocatedAt = new(capacity: 64);
        public int Requests;

        public byte[] Handle(in HttpRequest request, StatsShard stats)
        {
            // Only a few samples, in a list sized up front, so that the probe itself allocates nothing in between.
            if (++Requests % 5000 == 0 && AllocatedAt.Count < AllocatedAt.Capacity)
            {
                AllocatedAt.Add(GC.GetAllocatedBytesForCurrentThread());
            }

            return pixel.Handle(request, stats);
        }
    }

    private (ServerContext Context, int Port, HitStore Store) Start(Func<IRequestHandler, IRequestHandler> wrap, int maxConnections = 64, bool evictWhenFull = false)
    {
        var store = new HitStore(1000);
        var limits = new ServerLimits(HttpLimits.Default, HeaderTimeoutMs: 10_000, IdleTimeoutMs: 30_000, MaxConnections: maxConnections)
        {
            EvictWhenFull = evictWhenFull,
        };
        var context = new ServerContext(wrap(new PixelApplication(store, 64)), limits);
        Listener? listener = Listener.TryBind("127.0.0.1", 0, context, out string error, loops: 1);
        Assert.True(listener is not null, error);
        listener.Start();
        _listeners.Add(listener);
        return (context, listener.EndPoints[0].Port, store);
    }

    private static byte[] BigAnswer()
    {
        byte[] head = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {BigBodyLength}\r\nConnection: keep-alive\r\n\r\n");
        byte[] answer = new byte[head.Length + BigBodyLength];
        head.CopyTo(answer, 0);
        for (int i = 0; i < BigBodyLength; i++)
        {
            answer[head.Length + i] = (byte)(i * 7 % 251);
        }

        return answer;
    }

    private static Socket Connect(int port, int receiveBuffer = 0)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 20_000 };
        if (receiveBuffer > 0)
        {
            // Set before connecting, so the window the server sees is small from the start.
            socket.ReceiveBufferSize = receiveBuffer;
        }

        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    private static void ReceiveExactly(Socket socket, byte[] buffer, int length)
    {
        for (int got = 0; got < length;)
        {
            int n = socket.Receive(buffer, got, length - got, SocketFlags.None);
            Assert.True(n > 0, $"the server closed after {got} of {length} bytes");
            got += n;
        }
    }

    [Fact]
    public void A_short_write_finishes_when_the_client_reads_and_the_loop_serves_others_meanwhile_twice_over()
    {
        (ServerContext context, int port, HitStore store) = Start(pixel => new BigOrPixel(pixel));
        using Socket slow = Connect(port, receiveBuffer: 4096);
        byte[] received = new byte[s_big.Length];
        for (int round = 0; round < 2; round++)
        {
            // The loop's send comes back short and it waits for EPOLLOUT; the second round proves it asks again after
            // the first wait ended (and dropped EPOLLOUT).
            slow.Send(Encoding.ASCII.GetBytes("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
            using (var other = new RawHttpClient(port))
            {
                Assert.Equal(200, other.Request("/pixel.gif?key=meanwhile").Status);
            }

            ReceiveExactly(slow, received, received.Length);
            Assert.True(received.AsSpan().SequenceEqual(s_big), $"round {round}: the answer arrived damaged");
        }

        // The same connection carries on with ordinary requests.
        slow.Send(Encoding.ASCII.GetBytes(RawHttpClient.Get("/pixel.gif?key=after")));
        byte[] head = new byte[12];
        ReceiveExactly(slow, head, head.Length);
        Assert.Equal("HTTP/1.1 200", Encoding.ASCII.GetString(head));
        Assert.Equal(2, store.Peek().Entries.Single(e => Encoding.UTF8.GetString(e.Key) == "meanwhile").Value);
        Assert.Equal(0, context.Stats.Read().Errors);
    }

    [Fact]
    public async Task Peers_that_reset_mid_request_or_mid_answer_are_closed_and_the_loop_carries_on()
    {
        (ServerContext context, int port, HitStore store) = Start(pixel => new BigOrPixel(pixel));

        // A reset halfway through a request head.
        using (Socket half = Connect(port))
        {
            half.Send(Encoding.ASCII.GetBytes("GET /pixel.gif?key=half HTTP/1.1\r\nHo"));
            await Wait.Until(() => context.Tracker.Open == 1, "the half request's connection is open");
            half.LingerState = new LingerOption(true, 0);   // close with RST instead of FIN
        }

        // A reset while the loop waits to send the rest of a big answer.
        using (Socket stalled = Connect(port, receiveBuffer: 4096))
        {
            stalled.Send(Encoding.ASCII.GetBytes("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
            byte[] first = new byte[1024];
            ReceiveExactly(stalled, first, first.Length);
            stalled.LingerState = new LingerOption(true, 0);
        }

        await Wait.Until(() => context.Tracker.Open == 0, "both reset connections are closed");
        using var client = new RawHttpClient(port);
        Assert.Equal(200, client.Request("/pixel.gif?key=next").Status);
        Assert.DoesNotContain(store.Peek().Entries, e => Encoding.UTF8.GetString(e.Key) == "half");
        Assert.Equal(0, context.Stats.Read().Errors);
    }

    [Fact]
    public async Task A_handler_that_throws_closes_only_its_connection_is_counted_and_the_loop_serves_the_others()
    {
        (ServerContext context, int port, HitStore store) = Start(pixel => new ThrowsOnBoom(pixel));
        using var before = new RawHttpClient(port);
        Assert.Equal(200, before.Request("/pixel.gif?key=before").Status);

        const int failures = 20;
        for (int i = 0; i < failures; i++)
        {
            using var failing = new RawHttpClient(port);
            failing.Send(RawHttpClient.Get("/boom"));
            Assert.True(failing.IsClosedByServer(), "the connection whose request threw was not closed");
        }

        // The connection opened before, on the same (single) loop, is still served; so is a new one.
        Assert.Equal(200, before.Request("/pixel.gif?key=before").Status);
        using (var after = new RawHttpClient(port))
        {
            Assert.Equal(200, after.Request("/pixel.gif?key=after").Status);
        }

        await Wait.Until(() => context.Tracker.Open == 1, "the failed connections are closed");
        Assert.Equal(failures, context.Stats.Read().Errors);
        Assert.Equal(2, store.Peek().Entries.Single(e => Encoding.UTF8.GetString(e.Key) == "before").Value);
    }

    [Fact]
    public async Task One_loop_holds_thousands_of_idle_connections_and_still_answers_at_once()
    {
        const int idle = 3000;
        FileLimits.RaiseTo(3 * idle);
        (ServerContext context, int port, _) = Start(pixel => pixel, maxConnections: idle + 10);
        var clients = new List<RawHttpClient>();
        try
        {
            for (int i = 0; i < idle; i++)
            {
                var client = new RawHttpClient(port);
                clients.Add(client);
                // A first request, so that the kernel hands the connection over (TCP_DEFER_ACCEPT); then it idles.
                client.Send(RawHttpClient.Get("/pixel.gif?key=idle"));
            }

            foreach (RawHttpClient client in clients)
            {
                Assert.Equal(200, client.Read().Status);
            }

            Assert.Equal(idle, context.Tracker.Open);
            using (var fresh = new RawHttpClient(port))
            {
                Assert.Equal(200, fresh.Request("/pixel.gif?key=fresh").Status);
            }

            // Every idle connection is still served on the same loop.
            foreach (RawHttpClient client in clients)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=again").Status);
            }
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }

        await Wait.Until(() => context.Tracker.Open == 0, "every connection is closed");
        Assert.Equal(0, context.Stats.Read().Errors);
    }

    [Fact]
    public async Task A_full_listener_that_evicts_closes_the_connection_that_has_waited_longest_for_a_request_head()
    {
        (ServerContext context, int port, HitStore store) = Start(pixel => pixel, maxConnections: 3, evictWhenFull: true);
        using var unfinished = new RawHttpClient(port);
        unfinished.Send("G");
        await Wait.Until(() => context.Tracker.Open == 1, "the first connection is taken");
        using var answered = new RawHttpClient(port);
        Assert.Equal(200, answered.Request("/pixel.gif?key=a").Status);
        using var inBody = new RawHttpClient(port);
        // Answered as soon as the head is in; its body is still being read, so it holds a request.
        inBody.Send("GET /pixel.gif?key=b HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345");
        Assert.Equal(200, inBody.Read().Status);
        Assert.Equal(3, context.Tracker.Open);

        // Full: a new connection closes the one that never finished a request, and is served.
        using var first = new RawHttpClient(port);
        Assert.Equal(200, first.Request("/pixel.gif?key=c").Status);
        Assert.True(unfinished.IsClosedByServer());
        // Then the one that has waited longest since its answer; the one in the middle of a body stays.
        using var second = new RawHttpClient(port);
        Assert.Equal(200, second.Request("/pixel.gif?key=d").Status);
        Assert.True(answered.IsClosedByServer());
        inBody.Send("67890");
        Assert.Equal(200, inBody.Request("/pixel.gif?key=e").Status);
        Assert.Equal(3, context.Tracker.Open);
        Assert.Equal(["a", "b", "c", "d", "e"], store.Peek().Entries.Select(e => Encoding.UTF8.GetString(e.Key)).Order());
        Assert.Equal(0, context.Stats.Read().Refused);
    }

    [Fact]
    public async Task A_full_listener_that_does_not_evict_refuses_the_new_connection()
    {
        (ServerContext context, int port, _) = Start(pixel => pixel, maxConnections: 1);
        using var unfinished = new RawHttpClient(port);
        unfinished.Send("G");
        await Wait.Until(() => context.Tracker.Open == 1, "the only place is taken");
        using var refused = new RawHttpClient(port);
        refused.Send(RawHttpClient.Get("/pixel.gif?key=a"));
        Assert.True(refused.IsClosedByServer());
        Assert.Equal(1, context.Stats.Read().Refused);
        unfinished.Send("ET /pixel.gif?key=b HTTP/1.1\r\nHost: h\r\n\r\n");
        Assert.Equal(200, unfinished.Read().Status);
    }

    [Fact]
    public async Task A_keep_alive_request_allocates_nothing_on_the_loop_in_steady_state()
    {
        AllocationProbe probe = null!;
        (_, int port, HitStore store) = Start(pixel => probe = new AllocationProbe(pixel));
        byte[] request = Encoding.ASCII.GetBytes(RawHttpClient.Get("/pixel.gif?key=steady"));
        using Socket socket = Connect(port);
        byte[] answer = new byte[4096];

        // The first answer gives the length of every answer (the precomposed pixel response).
        socket.Send(request);
        int length = socket.Receive(answer);
        const int requests = 30_000;
        for (int i = 1; i < requests; i++)
        {
            socket.Send(request);
            ReceiveExactly(socket, answer, length);
        }

        await Wait.Until(() => probe.Requests == requests, "every request reached the application");
        // Samples at requests 5,000 ... 30,000: whatever the loop thread allocated between the first and the last,
        // 25,000 keep-alive requests' worth of receive, parse, count, answer and send.
        // Under one byte per request: nothing is allocated per request (a one-off, such as a lazily made object,
        // may still show up once).
        long allocated = probe.AllocatedAt[^1] - probe.AllocatedAt[0];
        Assert.True(allocated < requests - 5000, $"{allocated} bytes allocated on the loop over {requests - 5000} keep-alive requests");
        Assert.Equal(requests, store.Peek().Entries.Single().Value);
    }
}
