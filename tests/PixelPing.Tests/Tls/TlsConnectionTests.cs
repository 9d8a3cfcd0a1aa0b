using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using PixelPing.Config;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Tls;

/// <summary>
/// The connection loop over TLS, against the in-process server on an HTTPS port: the chain is sent, keep-alive,
/// pipelining and the limits hold as over plain TCP, and handshakes that stall or fail cost nothing lasting.
/// </summary>
public sealed class TlsConnectionTests : IAsyncLifetime
{
    private readonly List<InProcessServer> _servers = [];
    private readonly EndpointReceiver _receiver = new();
    private readonly string _dir = TempDir.Create();
    private readonly ServerFiles _files;
    private readonly X509Certificate2Collection _root = [TestPki.Shared.Root];

    public TlsConnectionTests()
    {
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        _files = TestPki.Shared.WriteServerFiles(_dir, leaf);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (InProcessServer server in _servers)
        {
            await server.DisposeAsync();
        }

        await _receiver.DisposeAsync();
    }

    private InProcessServer Start(Func<Settings, Settings>? change = null, bool tls = true, bool chain = true)
    {
        Settings settings = InProcessServer.Defaults(_receiver, intervalSeconds: 3600) with
        {
            HeaderTimeout = TimeSpan.FromSeconds(1),
            IdleTimeout = TimeSpan.FromSeconds(5),
            MaxConnections = 50,
        };
        if (tls)
        {
            settings = settings with { SslKey = _files.Key, SslCert = _files.Cert, SslCa = chain ? _files.Ca : null };
        }

        InProcessServer server = InProcessServer.Start(change is null ? settings : change(settings));
        _servers.Add(server);
        return server;
    }

    private Task<long> HitsAsync(InProcessServer server, string key) => server.DeliveredAsync(_receiver, key);

    [Fact]
    public async Task A_client_trusting_only_the_root_gets_the_pixel_and_the_hit_counts()
    {
        InProcessServer server = Start();
        using RawHttpClient client = RawHttpClient.ConnectTls(server.Port, _root);

        RawResponse response = client.Request("/pixel.gif?key=over-tls");

        Assert.Equal(200, response.Status);
        Assert.Equal("image/gif", response.Header("Content-Type"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(Repo.Root, "pixel.gif")), response.Body);
        Assert.Equal(1, await HitsAsync(server, "over-tls"));
        Assert.Equal("CN=localhost", client.RemoteCertificate!.Subject);
    }

    [Fact]
    public void Without_sslca_the_same_client_cannot_verify_the_certificate()
    {
        // The control for the test above: it is the intermediate sent by the server that lets the chain reach the root.
        InProcessServer server = Start(chain: false);

        Assert.Throws<AuthenticationException>(() => RawHttpClient.ConnectTls(server.Port, _root));
        Assert.Equal(0, server.Server.Context.Stats.Read().Errors);
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public void Tls_1_2_and_1_3_are_both_accepted(SslProtocols protocol)
    {
        InProcessServer server = Start();
        using RawHttpClient client = RawHttpClient.ConnectTls(server.Port, _root, protocols: protocol);

        Assert.Equal(protocol, client.Protocol);
        Assert.Equal(200, client.Request("/pixel.gif?key=v").Status);
    }

    [Fact]
    public void The_ip_address_name_in_the_certificate_verifies_too()
    {
        InProcessServer server = Start();
        using RawHttpClient client = RawHttpClient.ConnectTls(server.Port, _root, targetHost: "127.0.0.1");

        Assert.Equal(200, client.Request("/pixel.gif").Status);
    }

    [Fact]
    public async Task Keep_alive_and_pipelining_work_over_tls()
    {
        InProcessServer server = Start();
        using RawHttpClient client = RawHttpClient.ConnectTls(server.Port, _root);

        client.Send(RawHttpClient.Get("/pixel.gif?key=p") + RawHttpClient.Get("/nope") +
            "HEAD /pixel.gif?key=p HTTP/1.1\r\nHost: x\r\n\r\n" + RawHttpClient.Get("/pixel.gif?key=p"));
        Assert.Equal(200, client.Read().Status);
        Assert.Equal(404, client.Read().Status);
        Assert.Equal(200, client.Read(head: true).Status);
        RawResponse last = client.Read();
        Assert.Equal(43, last.Body.Length);
        Assert.Equal("keep-alive", last.Header("Connection"));

        // The same connection carries on after the batch.
        Assert.Equal(200, client.Request("/pixel.gif?key=p").Status);
        Assert.Equal(4, await HitsAsync(server, "p"));
        Assert.Equal(1, server.Server.Context.Tracker.Open);
    }

    [Theory]
    [InlineData(414, "GET /pixel.gif?key=", 5000, " HTTP/1.1\r\nHost: x\r\n\r\n")]
    [InlineData(431, "GET /pixel.gif HTTP/1.1\r\nHost: x\r\nX-Big: ", 5000, "\r\n\r\n")]
    [InlineData(400, "GET /pixel.gif HTTP/1.1\r\nHost: x\r\nBad Header: y", 0, "\r\n\r\n")]
    [InlineData(413, "POST /pixel.gif HTTP/1.1\r\nHost: x\r\nContent-Length: 999999", 0, "\r\n\r\n")]
    public void The_limits_answer_and_close_as_over_plain_tcp(int status, string prefix, int filler, string suffix)
    {
        InProcessServer server = Start(s => s with { MaxRequestLine = 1024, MaxHeaderBytes = 1024, MaxBodyBytes = 1024 });
        using RawHttpClient client = RawHttpClient.ConnectTls(server.Port, _root);

        client.Send(prefix + new string('a', filler) + suffix);

        RawResponse response = client.Read();
        Assert.Equal(status, response.Status);
        Assert.Equal("close", response.Header("Connection"));
        Assert.True(client.IsClosedByServer());
    }

    [Fact]
    public async Task A_request_head_that_stalls_after_the_handshake_is_cut_off_by_the_header_timeout()
    {
        InProcessServer server = Start();
        using RawHttpClient client = RawHttpClient.ConnectTls(server.Port, _root);
        client.Send("GET /pixel.gif?key=slow HTTP/1.1\r\nHost:");

        await Wait.Until(() => server.Server.Context.Tracker.Open == 0, "the server closes the stalled connection");
        Assert.True(client.IsClosedByServer());
        Assert.Equal(0, await HitsAsync(server, "slow"));
    }

    [Fact]
    public async Task Clients_that_stall_in_the_handshake_do_not_keep_others_from_being_served()
    {
        // A long deadline, so the stalled handshakes are certainly still open while the other client is served.
        InProcessServer server = Start(s => s with { HeaderTimeout = TimeSpan.FromSeconds(60) });
        var stalled = new List<Socket>();
        try
        {
            for (int i = 0; i < 8; i++)
            {
                Socket socket = Connect(server.Port);
                stalled.Add(socket);
                // The start of a TLS record header announcing a ClientHello that never comes, or just its first
                // byte. (A client that sends nothing at all is not even accepted: the listener uses TCP_DEFER_ACCEPT,
                // so the kernel holds it until its first bytes arrive.)
                socket.Send(i % 2 == 1 ? [0x16, 0x03, 0x01, 0x02, 0x00, 0x01] : [0x16]);
            }

            await Wait.Until(() => server.Server.Context.Tracker.Open == 8, "all eight handshakes are open");
            using RawHttpClient client = RawHttpClient.ConnectTls(server.Port, _root);
            Assert.Equal(200, client.Request("/pixel.gif?key=served").Status);
            Assert.Equal(9, server.Server.Context.Tracker.Open);
        }
        finally
        {
            foreach (Socket socket in stalled)
            {
                socket.Dispose();
            }
        }

        await Wait.Until(() => server.Server.Context.Tracker.Open == 0, "the stalled connections are gone once their clients leave");
        Assert.Equal(1, await HitsAsync(server, "served"));
        Assert.Equal(0, server.Server.Context.Stats.Read().Errors);
    }

    [Fact]
    public async Task A_stalled_handshake_is_closed_by_the_handshake_deadline()
    {
        // The idle timeout is far beyond the wait: the header timeout (1 s) is what must close it.
        InProcessServer server = Start(s => s with { IdleTimeout = TimeSpan.FromSeconds(120) });
        using Socket stalled = Connect(server.Port);
        // One byte of a TLS record, then nothing (with nothing at all the kernel would not hand it over yet).
        stalled.Send([0x16]);

        await Wait.Until(() => server.Server.Context.Stats.Read().FailedHandshakes == 1, "the server gives up on the stalled handshake");
        await Wait.Until(() => server.Server.Context.Tracker.Open == 0, "the connection is gone");
        stalled.ReceiveTimeout = 10_000;
        Assert.Equal(0, ReceiveOrReset(stalled));
        Assert.Equal(1, server.Server.Context.Stats.Read().FailedHandshakes);
    }

    [Fact]
    public async Task Garbage_handshakes_are_closed_at_once_and_leave_nothing_behind()
    {
        InProcessServer server = Start(s => s with { HeaderTimeout = TimeSpan.FromSeconds(60) });
        var random = new Random(42);
        for (int i = 0; i < 20; i++)
        {
            byte[] noise = new byte[64 + random.Next(2048)];
            random.NextBytes(noise);
            byte[] garbage = (i % 4) switch
            {
                // A complete handshake record whose body is noise.
                0 => [0x16, 0x03, 0x01, 0x00, 0x40, .. noise.AsSpan(0, 64)],
                // Noise that is no TLS record at all.
                1 => [0x00, .. noise],
                2 => "SSH-2.0-OpenSSH_9.2p1\r\n"u8.ToArray(),
                // An alert record instead of a ClientHello.
                _ => [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],
            };
            using Socket socket = Connect(server.Port);
            socket.Send(garbage);
            socket.ReceiveTimeout = 10_000;
            // Closed by the server well before the 60 s deadline: the handshake failed, it did not time out.
            Assert.Equal(0, ReceiveOrReset(socket));
        }

        using RawHttpClient client = RawHttpClient.ConnectTls(server.Port, _root);
        Assert.Equal(200, client.Request("/pixel.gif?key=after").Status);
        await Wait.Until(() => server.Server.Context.Stats.Read().FailedHandshakes == 20, "every garbage handshake is counted");
        await Wait.Until(() => server.Server.Context.Tracker.Open == 1, "only the good connection is left");
        Assert.Equal(0, server.Server.Context.Stats.Read().Errors);
    }

    [Fact]
    public async Task Plain_http_sent_to_the_tls_port_is_closed_without_an_answer()
    {
        InProcessServer server = Start();
        using (var plain = new RawHttpClient(server.Port))
        {
            plain.Send(RawHttpClient.Get("/pixel.gif?key=plain"));
            Assert.True(plain.IsClosedByServer());
        }

        await Wait.Until(() => server.Server.Context.Tracker.Open == 0, "the connection is gone");
        Assert.Equal(0, await HitsAsync(server, "plain"));
        Assert.Equal(1, server.Server.Context.Stats.Read().FailedHandshakes);
        Assert.Equal(0, server.Server.Context.Stats.Read().Errors);
        using RawHttpClient client = RawHttpClient.ConnectTls(server.Port, _root);
        Assert.Equal(200, client.Request("/pixel.gif").Status);
    }

    [Fact]
    public async Task Tls_sent_to_a_plain_port_is_answered_400_and_closed()
    {
        InProcessServer server = Start(tls: false);
        Assert.Null(server.Server.Context.Tls);

        // The ClientHello is a malformed request line to the HTTP parser: 400, then close; the handshake fails.
        Assert.ThrowsAny<Exception>(() => RawHttpClient.ConnectTls(server.Port, _root));

        await Wait.Until(() => server.Server.Context.Tracker.Open == 0, "the connection is gone");
        Assert.Equal(0, server.Server.Context.Stats.Read().Errors);
        using var client = new RawHttpClient(server.Port);
        Assert.Equal(200, client.Request("/pixel.gif").Status);
    }

    private static Socket Connect(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    /// <summary>Reads until the server closes: 0 for an orderly close or a reset, else the byte count (a failure).</summary>
    private static int ReceiveOrReset(Socket socket)
    {
        byte[] buffer = new byte[8192];
        try
        {
            int total = 0;
            int n;
            while ((n = socket.Receive(buffer)) > 0)
            {
                // A TLS alert (7 bytes) may come before the close; anything that is not an alert record is an answer.
                if (buffer[0] != 0x15)
                {
                    total += n;
                }
            }

            return total;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return 0;
        }
    }
}
