using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>The published binary without an endpoint: the counts are kept and logged, refusals reported once.</summary>
[Trait("Kind", "External")]
public sealed class LogOnlyTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public void No_endpoint_keeps_counts_cumulatively()
    {
        using ServerProcess server = ServerProcess.StartWithConfig("""{ "host": "127.0.0.1", "port": 0, "interval": 3600 }""", out int port);
        using var client = new RawHttpClient(port);
        for (int hits = 1; hits <= 2; hits++)
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=local").Status);
            server.Signal(ServerProcess.SIGUSR2);
            // Each flush logs every key with its count since the start, not since the last flush.
            server.WaitForStdout(l => l == hits + ":\tlocal", Deadline);
        }
    }

    [Fact]
    public void Each_refusal_is_reported_once_and_the_full_store_is_said_once()
    {
        using ServerProcess server = ServerProcess.StartWithConfig("""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "maxkeys": 2 }""", out int port);
        using var client = new RawHttpClient(port);
        Assert.Equal(200, client.Request("/pixel.gif?key=a").Status);
        Assert.Equal(200, client.Request("/pixel.gif?key=b").Status);

        // Reaching the cap flushes (here: logs) at once; a third key is refused, and said so at the next flush.
        server.WaitForStdout(l => l == "1:\ta", Deadline);
        Assert.Equal(200, client.Request("/pixel.gif?key=c").Status);
        server.Signal(ServerProcess.SIGUSR2);
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
