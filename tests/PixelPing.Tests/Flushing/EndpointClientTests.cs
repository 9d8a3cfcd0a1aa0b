using System.Net;
using System.Net.Sockets;
using System.Text;
using PixelPing.Flushing;

namespace PixelPing.Tests.Flushing;

public sealed class EndpointClientTests
{
    [Theory]
    [InlineData("HTTP/1.1 200 OK", 200)]
    [InlineData("HTTP/1.1 204 No Content\r", 204)]
    [InlineData("HTTP/1.0 503 Service Unavailable", 503)]
    [InlineData("HTTP/1.1 301", 301)]
    [InlineData("HTTP/1.1 404 ", 404)]
    [InlineData("HTTP/1.1 100 Continue", 100)]
    public void A_status_line_gives_its_code(string line, int status)
    {
        Assert.Equal(status, EndpointClient.ParseStatusLine(Encoding.ASCII.GetBytes(line)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("HTTP/1.1")]
    [InlineData("HTTP/1.1 20")]
    [InlineData("HTTP/1.1 2000 OK")]
    [InlineData("HTTP/1.1  200 OK")]
    [InlineData("HTTP/1.1 2x0 OK")]
    [InlineData("HTTP/2 200 OK")]
    [InlineData("HTTP/2.0 200 OK")]
    [InlineData("http/1.1 200 OK")]
    [InlineData("SSH-2.0-OpenSSH_9.2")]
    [InlineData("HTTP/1.1\t200 OK")]
    public void Anything_else_is_not_an_answer(string line)
    {
        var e = Assert.Throws<InvalidDataException>(() => EndpointClient.ParseStatusLine(Encoding.ASCII.GetBytes(line)));
        Assert.Equal("the endpoint did not answer with an HTTP/1.x status line", e.Message);
    }

    [Theory]
    // RFC 8305 §4: the families alternate from the first address's, each family in the resolver's own order.
    [InlineData("2001:db8::1 2001:db8::2 192.0.2.1 192.0.2.2", "2001:db8::1 192.0.2.1 2001:db8::2 192.0.2.2")]
    [InlineData("192.0.2.1 192.0.2.2 192.0.2.3 2001:db8::1", "192.0.2.1 2001:db8::1 192.0.2.2 192.0.2.3")]
    [InlineData("2001:db8::1 192.0.2.1 2001:db8::2", "2001:db8::1 192.0.2.1 2001:db8::2")]
    [InlineData("192.0.2.2 192.0.2.1 192.0.2.2", "192.0.2.2 192.0.2.1")]
    [InlineData("::1 127.0.0.1 ::1", "::1 127.0.0.1")]
    public void Addresses_are_tried_with_the_families_interleaved(string resolved, string tried)
    {
        // Without IPv6 on the machine its addresses are left out, and the IPv4 ones keep their order.
        IPAddress[] expected = [.. tried.Split(' ').Select(IPAddress.Parse)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork || Socket.OSSupportsIPv6)];

        Assert.Equal(expected, EndpointClient.Interleave([.. resolved.Split(' ').Select(IPAddress.Parse)]));
    }
}
