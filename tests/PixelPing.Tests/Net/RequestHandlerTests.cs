using System.Net;
using System.Text;
using PixelPing.Http;
using PixelPing.Net;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Net;

/// <summary>
/// The transport calls a listener's handler with each parsed request: the pixel port runs the pixel application,
/// another listener on the same transport runs its own handler with the same parser, limits and counters.
/// </summary>
public sealed class RequestHandlerTests
{
    /// <summary>A second kind of listener: answers every request with the path it asked for and the client's address.</summary>
    private sealed class EchoHandler : IRequestHandler
    {
        public byte[] Handle(in HttpRequest request, StatsShard stats)
        {
            string line = Encoding.Latin1.GetString(request.Head[..request.Head.IndexOf((byte)'\r')]);
            string body = line + " from " + request.Peer;
            return Encoding.Latin1.GetBytes(
                $"HTTP/1.1 203 Echo\r\nContent-Length: {body.Length}\r\nConnection: {(request.KeepAlive ? "keep-alive" : "close")}\r\n\r\n{body}");
        }
    }

    [Fact]
    public async Task A_listener_runs_the_handler_it_was_given_with_the_request_and_the_peer_address()
    {
        var limits = new ListenerLimits(HttpLimits.Default, HeaderTimeoutMs: 5000, IdleTimeoutMs: 5000, MaxConnections: 4);
        var context = new ListenerContext(new EchoHandler(), limits);
        Listener? listener = Listener.TryBind("127.0.0.1", 0, context, out string error);
        Assert.True(listener is not null, error);
        await using (listener)
        {
            listener.Start();
            using var client = new RawHttpClient(listener.EndPoints[0].Port);
            RawResponse first = client.Request("/livez");
            Assert.Equal(203, first.Status);
            Assert.Equal("GET /livez HTTP/1.1 from 127.0.0.1", Encoding.Latin1.GetString(first.Body));
            Assert.Equal("keep-alive", first.Header("Connection"));

            // Framing errors never reach the handler: the transport answers them.
            client.Send("GET /x HTTP/1.1\r\n\r\n");
            Assert.Equal(400, client.Read().Status);

            StatsSnapshot stats = context.Stats.Read();
            Assert.Equal(1, stats.Requests);
            Assert.Equal(1, stats.Accepted);
            Assert.Equal(1, stats.Responses[StatsShard.Statuses.IndexOf(400)]);
            Assert.Equal(1, stats.Responses[^1]);
            Assert.Equal(0, stats.Pixels);
        }
    }

    [Fact]
    public async Task The_pixel_port_counts_responses_by_status_and_pixels_served()
    {
        await using var server = InProcessServer.Start(InProcessServer.Defaults(null, intervalSeconds: 3600));
        using (var client = new RawHttpClient(server.Port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=a").Status);
            Assert.Equal(200, client.Request("/pixel.gif?key=a").Status);
            Assert.Equal(404, client.Request("/other").Status);
            client.Send("POST /pixel.gif HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
            Assert.Equal(405, client.Read().Status);
        }

        StatsSnapshot stats = server.Server.Context.Stats.Read();
        Assert.Equal(4, stats.Requests);
        Assert.Equal(2, stats.Pixels);
        Assert.Equal(2, stats.Responses[StatsShard.Statuses.IndexOf(200)]);
        Assert.Equal(1, stats.Responses[StatsShard.Statuses.IndexOf(404)]);
        Assert.Equal(1, stats.Responses[StatsShard.Statuses.IndexOf(405)]);
        Assert.Equal(IPAddress.Loopback, PeerAddress.FromSocketAddress([2, 0, 0, 80, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]).ToIPAddress());
    }
}
