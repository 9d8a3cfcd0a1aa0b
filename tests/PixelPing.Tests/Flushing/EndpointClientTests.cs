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
}
