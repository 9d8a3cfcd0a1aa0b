using PixelPing.Http;
using PixelPing.Net;

namespace PixelPing.Tests.Net;

public sealed class ConnectionErrorsTests
{
    // sockaddr_in of 192.0.2.7, port 80, as accept4 fills it.
    private static readonly PeerAddress s_peer = PeerAddress.FromSocketAddress([2, 0, 0, 80, 192, 0, 2, 7, 0, 0, 0, 0, 0, 0, 0, 0]);

    [Fact]
    public void A_bug_every_request_meets_is_logged_at_most_once_a_second_with_the_count()
    {
        var errors = new ConnectionErrors();
        var bug = new InvalidOperationException("a bug in the handler");
        Assert.Equal("--- connection error from 192.0.2.7: InvalidOperationException: a bug in the handler", errors.Report(s_peer, bug, 10_000));

        // A thousand requests in the same second meet it: none of them is a line of its own.
        for (int i = 1; i <= 1000; i++)
        {
            Assert.Null(errors.Report(s_peer, bug, 10_000 + (i * 999 / 1000)));
        }

        Assert.Equal("--- connection error from 192.0.2.7: InvalidOperationException: a bug in the handler; 1001 such errors since the last such line",
            errors.Report(s_peer, bug, 11_000));
    }

    [Fact]
    public void An_error_outside_any_connection_says_it_came_from_the_loop()
    {
        string? line = new ConnectionErrors().Report(null, new IOException("cannot watch the connection: Out of memory"), 10_000);
        Assert.Equal("--- event loop error: IOException: cannot watch the connection: Out of memory", line);
    }
}
