using System.Net;
using System.Net.Sockets;
using PixelPing.Monitoring;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Monitoring;

/// <summary>The status listener (/livez, /readyz, /metrics) of a real server on loopback, beside its pixel port.</summary>
public sealed class StatusApplicationTests
{
    internal static InProcessServer StartWithStatus(EndpointReceiver? receiver = null) =>
        InProcessServer.Start(InProcessServer.Defaults(receiver, intervalSeconds: 3600) with { Status = new IPEndPoint(IPAddress.Loopback, 0) });

    private static int StatusPort(InProcessServer server) => server.Server.StatusEndPoint!.Port;

    [Fact]
    public async Task Livez_and_readyz_answer_200_and_readyz_turns_503_when_stopping_begins()
    {
        await using InProcessServer server = StartWithStatus();
        using var client = new RawHttpClient(StatusPort(server));
        RawResponse live = client.Request("/livez");
        Assert.Equal(200, live.Status);
        Assert.Equal("ok\n", System.Text.Encoding.ASCII.GetString(live.Body));
        Assert.Equal("text/plain; charset=utf-8", live.Header("Content-Type"));
        Assert.NotNull(live.Header("Date"));
        Assert.Equal(200, client.Request("/readyz").Status);

        server.Server.BeginStopping();
        Assert.Equal(503, client.Request("/readyz").Status);
        Assert.Equal(200, client.Request("/livez").Status);
        // The pixel port still serves while not ready (the shutdown delay).
        using var pixel = new RawHttpClient(server.Port);
        Assert.Equal(200, pixel.Request("/pixel.gif?key=late").Status);
    }

    [Fact]
    public async Task Readyz_is_503_once_the_pixel_port_stops_accepting()
    {
        await using InProcessServer server = StartWithStatus();
        using var client = new RawHttpClient(StatusPort(server));
        Assert.Equal(200, client.Request("/readyz").Status);
        await server.Server.StopAsync();
        Assert.Equal(503, client.Request("/readyz").Status);
        Assert.Equal(200, client.Request("/livez").Status);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/pixel.gif?key=x")]
    [InlineData("/metrics/")]
    [InlineData("/LIVEZ")]
    [InlineData("/livez/x")]
    public async Task Other_paths_are_404_on_the_status_port_and_count_nothing(string target)
    {
        await using InProcessServer server = StartWithStatus();
        using var client = new RawHttpClient(StatusPort(server));
        Assert.Equal(404, client.Request(target).Status);
        Assert.Equal(0, Scrape.Parse(Scrape.Utf8(client.Request("/metrics").Body))["pixelping_hits_total"]);
    }

    [Theory]
    [InlineData("/livez")]
    [InlineData("/readyz")]
    [InlineData("/metrics")]
    public async Task The_pixel_port_never_answers_the_status_paths(string target)
    {
        await using InProcessServer server = StartWithStatus();
        using var client = new RawHttpClient(server.Port);
        Assert.Equal(404, client.Request(target).Status);
    }

    [Fact]
    public async Task Metrics_is_the_0_0_4_text_format_and_HEAD_has_the_headers_only()
    {
        await using InProcessServer server = StartWithStatus();
        using var client = new RawHttpClient(StatusPort(server));
        RawResponse metrics = client.Request("/metrics");
        Assert.Equal(200, metrics.Status);
        Assert.Equal(MetricsWriter.ContentType, metrics.Header("Content-Type"));
        string text = Scrape.Utf8(metrics.Body);
        var (code, output) = Scrape.PromtoolCheck(text);
        Assert.True(code == 0, output + "\n" + text);
        Assert.Equal(1, Scrape.Parse(text)["pixelping_build_info{version=\"" + CommandLine.Version + "\"}"]);

        client.Send("HEAD /metrics HTTP/1.1\r\nHost: h\r\n\r\n");
        RawResponse head = client.Read(head: true);
        Assert.Equal(200, head.Status);
        Assert.Empty(head.Body);
        Assert.True(int.Parse(head.Header("Content-Length")!) > 1000);

        client.Send("POST /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
        Assert.Equal(405, client.Read().Status);
    }

    [Fact]
    public void A_status_port_in_use_fails_the_start_naming_the_key()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        Server? server = Server.TryCreate(InProcessServer.Defaults() with { Status = new IPEndPoint(IPAddress.Loopback, port) }, out string error);
        Assert.Null(server);
        Assert.Equal($"test.json: \"status\": cannot listen on 127.0.0.1:{port}: port {port} is already in use", error);
    }
}
