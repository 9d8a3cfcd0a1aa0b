using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>How the published binary reads what the endpoint answers to a flush.</summary>
[Trait("Kind", "External")]
public sealed class EndpointAnswerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(ReceiverMode.Continue100)]
    [InlineData(ReceiverMode.EarlyHints103)]
    public async Task An_interim_1xx_answer_is_read_past_to_the_final_200(ReceiverMode mode)
    {
        await using var receiver = new EndpointReceiver { Mode = mode };
        using ServerProcess server = ServerProcess.StartWithConfig(
            $$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "endpoint": "{{receiver.Url}}" }""", out int port);
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=interim").Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        server.WaitForStdout(l => l == "--- flushed ---", Deadline);
        Assert.Equal(1, receiver.Totals["interim"]);
        Assert.DoesNotContain(server.Stderr, l => l.Contains("flush failed", StringComparison.Ordinal));

        // The next batch goes out as usual: nothing is kept back as failed.
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=next").Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        Assert.True(await receiver.WaitForTotalAsync(2, Deadline));
        Assert.Equal(2, receiver.StoredBatchIds.Count);
    }

    [Fact]
    public async Task A_101_answer_fails_the_flush_and_the_batch_is_kept()
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Switching101 };
        using ServerProcess server = ServerProcess.StartWithConfig(
            $$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "endpoint": "{{receiver.Url}}" }""", out int port);
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=upgraded").Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        server.WaitForStderr(l => l == "--- flush failed with code:101", Deadline);

        receiver.Mode = ReceiverMode.Accept;
        server.Signal(ServerProcess.SIGUSR2);
        Assert.True(await receiver.WaitForTotalAsync(1, Deadline));
        Assert.Equal(1, receiver.Totals["upgraded"]);
    }
}
