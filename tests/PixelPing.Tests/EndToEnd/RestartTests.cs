using System.Diagnostics;
using PixelPing.Flushing;
using PixelPing.Tests.Support;
using Xunit.Abstractions;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// The spool file across real restarts of the published executable: SIGTERM with the endpoint down, several restarts
/// during an outage, SIGKILL after the endpoint stored a batch, and spool files that cannot be trusted.
/// </summary>
[Trait("Kind", "External")]
public sealed class RestartTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _dir = TempDir.Create();

    private string SpoolPath => Path.Combine(_dir, "spool.txt");

    private ServerProcess Start(EndpointReceiver receiver, out int port, double interval = 0.2) => ServerProcess.StartWithConfig(
        $$"""
        { "host": "127.0.0.1", "port": 0, "interval": {{interval}}, "timeout": 0.5, "endpoint": "{{receiver.Url}}", "spool": "spool.txt",
          "log": false }
        """, out port, _dir);

    private static async Task<Hitter> HitAsync(int port, long atLeast)
    {
        var hitter = new Hitter(port, FaultInjectionTests.Keys);
        await hitter.WaitForMoreAsync(atLeast, Deadline);
        await hitter.StopAsync();
        return hitter;
    }

    private static void Add(Dictionary<string, long> into, IReadOnlyDictionary<string, long> counts)
    {
        foreach ((string key, long n) in counts)
        {
            into[key] = into.GetValueOrDefault(key) + n;
        }
    }

    private static int Failures(ServerProcess server) =>
        server.Stderr.Count(l => l.StartsWith("--- cannot connect to endpoint", StringComparison.Ordinal) || l.StartsWith("--- flush failed", StringComparison.Ordinal));

    [Fact]
    public async Task Hits_spooled_at_SIGTERM_with_the_endpoint_down_are_delivered_after_a_restart()
    {
        await using var receiver = new EndpointReceiver();
        receiver.Refuse();
        var answered = new Dictionary<string, long>();
        using (ServerProcess first = Start(receiver, out int port))
        {
            await using Hitter hitter = await HitAsync(port, 500);
            first.WaitForStderr(l => l.StartsWith("--- cannot connect to endpoint : connection refused", StringComparison.Ordinal), Deadline);
            Add(answered, hitter.Answered);
            first.Signal(ServerProcess.SIGTERM);
            Assert.Equal(0, first.WaitForExit(Deadline));
            long total = answered.Values.Sum();
            Assert.Contains(first.Stdout, l => l.StartsWith($"--- spool: wrote {total} undelivered hits in ", StringComparison.Ordinal) && l.EndsWith(" to spool.txt", StringComparison.Ordinal));
            Assert.DoesNotContain(first.Stderr, l => l.Contains("undelivered", StringComparison.Ordinal));
        }

        Assert.True(File.Exists(SpoolPath));
        receiver.Listen();
        using (ServerProcess second = Start(receiver, out int port))
        {
            second.WaitForStdout(l => l.StartsWith($"--- spool: loaded {answered.Values.Sum()} hits in ", StringComparison.Ordinal), Deadline);
            await using Hitter hitter = await HitAsync(port, 300);
            Add(answered, hitter.Answered);
            second.Signal(ServerProcess.SIGTERM);
            Assert.Equal(0, second.WaitForExit(Deadline));
        }

        output.WriteLine($"| restart: endpoint down, SIGTERM (spooled), start with the endpoint up | {answered.Values.Sum()} | {receiver.TotalHits} |");
        Assert.Equal(answered, receiver.Totals.ToDictionary(p => p.Key, p => p.Value));
        Assert.False(File.Exists(SpoolPath));
    }

    [Fact]
    public async Task Several_restarts_during_an_outage_lose_nothing_and_count_nothing_twice()
    {
        // The receiver stores every batch and then breaks the connection: to the server every flush failed, so every
        // batch is resent, across three restarts, and the receiver must count each once.
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.StoreThenCloseMidResponse };
        var answered = new Dictionary<string, long>();
        for (int run = 0; run < 3; run++)
        {
            using ServerProcess server = Start(receiver, out int port);
            int failures = Failures(server);
            await using Hitter hitter = await HitAsync(port, 300);
            Add(answered, hitter.Answered);
            await Wait.Until(() => Failures(server) >= failures + 2, "two more failed flushes", Deadline);

            server.Signal(ServerProcess.SIGTERM);
            Assert.Equal(0, server.WaitForExit(Deadline));
            Assert.True(File.Exists(SpoolPath));
        }

        Assert.True(new Spool(SpoolPath).Load(out List<Batch> batches, out _) == SpoolLoadStatus.Loaded);
        output.WriteLine($"after three runs: {batches.Count} batches spooled, {answered.Values.Sum()} answered, {receiver.TotalHits} stored");
        receiver.Mode = ReceiverMode.Accept;
        using (ServerProcess last = Start(receiver, out _))
        {
            Assert.True(await receiver.WaitForTotalAsync(answered.Values.Sum(), Deadline));
            last.Signal(ServerProcess.SIGTERM);
            Assert.Equal(0, last.WaitForExit(Deadline));
        }

        output.WriteLine($"| three restarts while every flush fails (stored, then the connection breaks) | {answered.Values.Sum()} | {receiver.TotalHits} |");
        Assert.Equal(answered, receiver.Totals.ToDictionary(p => p.Key, p => p.Value));
        Assert.False(File.Exists(SpoolPath));
    }

    [Fact]
    public async Task SIGKILL_after_the_endpoint_stored_a_batch_but_before_it_answered_costs_nothing()
    {
        // The batch is on disk before its POST begins; the receiver stores it and never answers; SIGKILL. The restart
        // sends it again with the same id, and the receiver ignores it: counted once, nothing lost.
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.StoreThenHang };
        var answered = new Dictionary<string, long>();
        HashSet<string> firstRunIds;
        int firstRunRequests;
        using (ServerProcess first = Start(receiver, out int port, interval: 3600))
        {
            await using Hitter hitter = await HitAsync(port, 300);
            Add(answered, hitter.Answered);
            first.Signal(ServerProcess.SIGUSR2);
            Assert.True(await receiver.WaitForTotalAsync(answered.Values.Sum(), Deadline));
            first.Signal(ServerProcess.SIGKILL);
            first.WaitForExit(Deadline);
            firstRunIds = [.. receiver.StoredBatchIds];
            firstRunRequests = receiver.Received.Count;
        }

        Assert.True(File.Exists(SpoolPath));
        receiver.Mode = ReceiverMode.Accept;
        using (ServerProcess second = Start(receiver, out _))
        {
            second.WaitForStdout(l => l.StartsWith($"--- spool: loaded {answered.Values.Sum()} hits in 1 batch ", StringComparison.Ordinal), Deadline);
            await Wait.Until(() => !File.Exists(SpoolPath), "the spool file removed after delivery", Deadline);

            second.Signal(ServerProcess.SIGTERM);
            Assert.Equal(0, second.WaitForExit(Deadline));
        }

        output.WriteLine($"| SIGKILL after the endpoint stored a batch but before it answered, then a restart | {answered.Values.Sum()} | {receiver.TotalHits} |");
        Assert.Equal(answered, receiver.Totals.ToDictionary(p => p.Key, p => p.Value));
        ReceivedFlush resent = receiver.Received.Skip(firstRunRequests).First();
        Assert.Contains(resent.Form["batch"], firstRunIds);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("altered")]
    [InlineData("garbage")]
    [InlineData("empty")]
    public async Task A_spool_file_that_cannot_be_trusted_is_moved_aside_with_a_clear_line_and_the_server_starts(string damage)
    {
        var good = new Spool(SpoolPath);
        Assert.True(good.TrySave([new Batch("aaaaaaaaaaaa-1", [new("k"u8.ToArray(), 3), new("j"u8.ToArray(), 4)])], out _));
        byte[] bytes = File.ReadAllBytes(SpoolPath);
        byte[] damaged = damage switch
        {
            "truncated" => bytes[..(bytes.Length - 30)],
            "altered" => [.. bytes[..28], (byte)'9', .. bytes[29..]],
            "garbage" => "\u0016\u0003\u0001 not a spool\n"u8.ToArray(),
            _ => [],
        };
        File.WriteAllBytes(SpoolPath, damaged);

        await using var receiver = new EndpointReceiver();
        using ServerProcess server = Start(receiver, out int port);
        string line = server.WaitForStderr(l => l.StartsWith("--- spool: spool.txt is unreadable (", StringComparison.Ordinal), Deadline);
        output.WriteLine(line);
        Assert.Contains("; moved it to ", line, StringComparison.Ordinal);
        Assert.EndsWith(" and started without it", line, StringComparison.Ordinal);
        string aside = Assert.Single(Directory.GetFiles(_dir, "spool.txt.corrupt-*"));
        Assert.Contains(aside, line, StringComparison.Ordinal);
        Assert.Equal(damaged, File.ReadAllBytes(aside));

        await using Hitter hitter = await HitAsync(port, 50);
        Assert.True(await receiver.WaitForTotalAsync(hitter.Total, Deadline));
        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Equal(hitter.Answered, receiver.Totals.ToDictionary(p => p.Key, p => p.Value));
    }
}
