using PixelPing.Flushing;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>Stop signals that come twice, against the published binary.</summary>
public sealed class StopSignalTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_stop_signal_delivered_twice_at_once_still_ends_with_the_final_flush()
    {
        // The endpoint takes a while to answer, so the final flush is still in progress when the copies arrive.
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Slow, SlowDelay = TimeSpan.FromSeconds(2) };
        using ServerProcess server = ServerProcess.StartWithConfig(
            $$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "endpoint": "{{receiver.Url}}" }""", out int port);
        using (var client = new RawHttpClient(port))
        {
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=twice").Status);
            }
        }

        // As GNU timeout does: to the process, then to its process group. The kernel merges copies that arrive before
        // the first is handled, so the copies go once the first has been taken.
        server.Signal(ServerProcess.SIGTERM);
        server.WaitForStdout(l => l.StartsWith("Got SIGTERM. Finishing", StringComparison.Ordinal), Deadline);
        server.Signal(ServerProcess.SIGTERM);
        server.Signal(ServerProcess.SIGTERM);

        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Equal(4, receiver.Totals["twice"]);
        Assert.Single(server.Stdout, l => l.StartsWith("Got SIGTERM again within a second: ignored", StringComparison.Ordinal));
        Assert.DoesNotContain(server.Stderr, l => l.Contains("exiting", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_second_signal_exits_at_once_but_first_saves_the_spool_and_says_what_is_undelivered(bool spool)
    {
        // The final flush hangs (the endpoint never answers); a second signal must not wait for it.
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Hang };
        string dir = TempDir.Create();
        string spoolPath = Path.Combine(dir, "spool.txt");
        string spoolKey = spool ? $"\"spool\": \"{spoolPath}\"," : "";
        using ServerProcess server = ServerProcess.StartWithConfig(
            $$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "timeout": 600, {{spoolKey}} "endpoint": "{{receiver.Url}}" }""", out int port, dir);
        using (var client = new RawHttpClient(port))
        {
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=first").Status);
            }
        }

        server.Signal(ServerProcess.SIGTERM);
        Assert.True(await receiver.WaitForRequestsAsync(1, Deadline), "the final flush did not start");
        server.Signal(ServerProcess.SIGINT);

        Assert.Equal(1, server.WaitForExit(Deadline));
        Assert.Contains("--- exiting with 3 hits undelivered", server.Stderr);
        Assert.Equal(spool, File.Exists(spoolPath));
        if (spool)
        {
            Assert.Equal(SpoolLoadStatus.Loaded, new Spool(spoolPath).Load(out List<Batch> batches, out string problem));
            Assert.Equal("", problem);
            Assert.Equal(3, batches.Sum(b => b.Entries.Sum(e => e.Value)));
        }
    }
}
