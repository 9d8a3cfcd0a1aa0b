using System.Net.Sockets;
using PixelPing.Net;

namespace PixelPing.Tests.Net;

public sealed class AcceptErrorsTests
{
    [Fact]
    public void A_descriptor_shortage_is_logged_at_most_once_a_second_with_the_count_and_backs_off()
    {
        var errors = new AcceptErrors();
        string? first = errors.Report(SocketError.TooManyOpenSockets, "Too many open files", 10_000);
        Assert.NotNull(first);
        Assert.StartsWith("--- accept failed: Too many open files (out of descriptors", first, StringComparison.Ordinal);

        // Twenty a second, as the old fixed 50 ms pause retried: none of them logged within the second.
        for (int i = 1; i < 20; i++)
        {
            Assert.Null(errors.Report(SocketError.TooManyOpenSockets, "Too many open files", 10_000 + (i * 50)));
        }

        string? next = errors.Report(SocketError.TooManyOpenSockets, "Too many open files", 11_000);
        Assert.NotNull(next);
        Assert.EndsWith("; 20 failures since the last such line", next, StringComparison.Ordinal);
        Assert.True(AcceptErrors.Backoff(SocketError.TooManyOpenSockets) > TimeSpan.Zero);
    }

    [Theory]
    [InlineData(SocketError.ConnectionReset)]
    [InlineData(SocketError.ConnectionAborted)]
    public void A_client_that_reset_before_it_was_accepted_is_not_logged(SocketError error)
    {
        var errors = new AcceptErrors();
        Assert.Null(errors.Report(error, "Connection reset by peer", 10_000));
        Assert.Equal(TimeSpan.Zero, AcceptErrors.Backoff(error));
        // And it does not use up the once-a-second line of a real problem.
        Assert.NotNull(errors.Report(SocketError.TooManyOpenSockets, "Too many open files", 10_001));
    }
}
