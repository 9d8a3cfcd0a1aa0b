using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>The published binary without an endpoint: the counts are kept and logged, refusals reported once.</summary>
public sealed class LogOnlyTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public void Each_refusal_is_reported_once_and_the_full_store_is_said_once()
    {
        using ServerProcess server = ServerProcess.StartWithConfig("""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "maxkeys": 2 }""", out int port);
        using var client = new RawHttpClient(port);
        foreach (string key in new[] { "a", "b", "c" })
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=" + key).Status);
        }

        // The third key is refused; reaching the cap flushes (here: logs) at once.
        server.WaitForStderr(l => l.StartsWith("--- refused 1 hits: 1 with new keys past maxkeys (2)", StringComparison.Ordinal), Deadline);
        for (int i = 0; i < 2; i++)
        {
            int flushes = server.CountStdout(l => l == "1:\ta");
            server.Signal(ServerProcess.SIGUSR2);
            server.WaitForStdout(_ => server.CountStdout(l => l == "1:\ta") > flushes, Deadline);
        }

        Assert.Single(server.Stderr, l => l.StartsWith("--- refused", StringComparison.Ordinal));

        // A new refusal is reported, once; the full store is said only the first time.
        Assert.Equal(200, client.Request("/pixel.gif?key=d").Status);
        server.Signal(ServerProcess.SIGUSR2);
        server.WaitForStderr(_ => server.Stderr.Count(l => l.StartsWith("--- refused 1 hits", StringComparison.Ordinal)) == 2, Deadline);
        Assert.Single(server.Stderr, l => l.StartsWith("--- maxkeys (2) distinct keys held", StringComparison.Ordinal));
    }
}
