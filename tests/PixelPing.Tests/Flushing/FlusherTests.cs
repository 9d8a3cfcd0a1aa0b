using System.Diagnostics;
using PixelPing.Counting;
using PixelPing.Flushing;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Flushing;

/// <summary>The flusher with a spool file, in the in-process server against a real receiver.</summary>
public sealed class FlusherTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _dir = TempDir.Create();

    private string SpoolPath => Path.Combine(_dir, "spool.txt");

    private static void Hit(InProcessServer server, string key, int times)
    {
        using var client = new RawHttpClient(server.Port);
        for (int i = 0; i < times; i++)
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=" + key).Status);
        }
    }

    private List<Batch> ReadSpool()
    {
        Assert.Equal(SpoolLoadStatus.Loaded, new Spool(SpoolPath).Load(out List<Batch> batches, out string problem));
        Assert.Equal("", problem);
        return batches;
    }

    [Fact]
    public async Task A_batch_is_in_the_spool_while_its_post_is_in_flight_and_gone_once_accepted()
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.StoreThenHang };
        var settings = InProcessServer.Defaults(receiver, intervalSeconds: 3600) with { Spool = SpoolPath, Timeout = TimeSpan.FromMilliseconds(500) };
        await using var server = InProcessServer.Start(settings);
        Hit(server, "inflight", 4);
        Task<bool> flush = server.Server.Flusher.FlushAsync();

        // The receiver has the batch and has not answered: a crash now must not lose it, so it is on disk.
        Assert.True(await receiver.WaitForRequestsAsync(1, Deadline));
        string id = receiver.Received.First().Form["batch"];
        Batch spooled = Assert.Single(ReadSpool());
        Assert.Equal(id, spooled.Id);
        Assert.Equal(4, spooled.Entries.Single().Value);
        Assert.False(await flush);
        Assert.True(File.Exists(SpoolPath));

        receiver.Mode = ReceiverMode.Accept;
        Assert.True(await server.Server.Flusher.FlushAsync());
        Assert.False(File.Exists(SpoolPath));
        Assert.Equal(4, receiver.TotalHits);
        Assert.Equal(2, receiver.Received.Count);
        Assert.All(receiver.Received, f => Assert.Equal(id, f.Form["batch"]));
    }

    [Fact]
    public async Task A_midnight_takes_the_store_while_an_older_batch_waits_and_each_batch_says_when_its_hits_were_counted()
    {
        long started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await using var receiver = new EndpointReceiver();
        receiver.Refuse();
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver, intervalSeconds: 3600) with { Spool = SpoolPath });
        Hit(server, "before", 3);
        Assert.False(await server.Server.Flusher.FlushAsync());
        Hit(server, "after", 2);

        // What the timer does at a UTC midnight: the hits since go into a batch of their own, behind the waiting one,
        // and on disk, though the endpoint is still down.
        server.Server.Flusher.CutDay();

        Assert.Equal(2, server.Server.Flusher.PendingCount);
        List<Batch> spooled = ReadSpool();
        Assert.Equal(["before", "after"], spooled.Select(b => System.Text.Encoding.UTF8.GetString(b.Entries.Single().Key)));
        Hit(server, "later", 1);
        receiver.Listen();
        Assert.True(await server.Server.Flusher.FlushAsync());

        long ended = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.Equal([3L, 2L, 1L], receiver.Received.Select(f => f.Counts.Values.Single()));
        Assert.Equal(spooled.Select(b => b.Id), receiver.Received.Take(2).Select(f => f.Form["batch"]));
        Assert.All(receiver.Received, f =>
        {
            long from = long.Parse(f.Form["from"], System.Globalization.CultureInfo.InvariantCulture);
            long to = long.Parse(f.Form["to"], System.Globalization.CultureInfo.InvariantCulture);
            // The clock the hits read may be up to a second behind.
            Assert.InRange(from, started - 1, to);
            Assert.InRange(to, from, ended);
            Assert.Equal(from / 86400, to / 86400);
        });
        Assert.False(File.Exists(SpoolPath));
    }

    [Fact]
    public async Task Nothing_is_written_when_every_flush_is_accepted_at_once()
    {
        await using var receiver = new EndpointReceiver();
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver, intervalSeconds: 3600) with { Spool = SpoolPath });
        Hit(server, "fine", 3);

        Assert.True(await server.Server.Flusher.FlushAsync());

        Assert.Equal(3, receiver.TotalHits);
        Assert.False(File.Exists(SpoolPath));
        // Only the spool's lock file, held while the server runs: no spool file, no temporary file.
        Assert.Equal([SpoolPath + ".lock"], Directory.GetFiles(_dir));
    }

    [Fact]
    public async Task Spooled_batches_are_sent_first_in_order_with_their_ids_before_newer_hits()
    {
        Batch[] spooled =
        [
            new Batch("0ld0ld0ld0ld-41", [new("kept"u8.ToArray(), 5)]),
            new Batch("0ld0ld0ld0ld-42", [new("live"u8.ToArray(), 7), new("kept"u8.ToArray(), 1)]),
        ];
        Assert.True(new Spool(SpoolPath).TrySave(spooled, out string error), error);
        await using var receiver = new EndpointReceiver();
        receiver.Refuse();
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver) with { Spool = SpoolPath });

        // Both wait, in order, while the endpoint is down; hits counted meanwhile stay behind them.
        Assert.Equal(2, server.Server.Flusher.PendingCount);
        Hit(server, "new", 2);
        receiver.Listen();

        Assert.True(await receiver.WaitForTotalAsync(15, Deadline), $"received {receiver.TotalHits}");
        await Wait.Until(() => !File.Exists(SpoolPath), "the spool file stayed after its batches were accepted");
        string[] order = receiver.Received.Where(f => f.Stored).Select(f => f.Form["batch"]).ToArray();
        Assert.Equal("0ld0ld0ld0ld-41", order[0]);
        Assert.Equal("0ld0ld0ld0ld-42", order[1]);
        Assert.Equal(new Dictionary<string, long> { ["kept"] = 6, ["live"] = 7, ["new"] = 2 }, receiver.Totals.ToDictionary(p => p.Key, p => p.Value));
    }

    [Fact]
    public async Task Shutdown_spools_the_kept_batch_and_the_live_counts_as_two_batches_and_a_restart_delivers_both_once()
    {
        // The receiver stores each batch, then breaks the connection before answering: the server must assume the
        // batch was lost, and the receiver must count it once however often it comes.
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.StoreThenCloseMidResponse };
        var settings = InProcessServer.Defaults(receiver, intervalSeconds: 3600) with { Spool = SpoolPath };
        string keptId;
        await using (var first = InProcessServer.Start(settings))
        {
            Hit(first, "before", 3);
            Assert.False(await first.Server.Flusher.FlushAsync());
            keptId = first.Server.Flusher.Kept!.Id;
            Hit(first, "after", 2);
            // Every hit undelivered is in the spool file: nothing is lost.
            Assert.Equal(0, await first.Server.StopAsync());
        }

        List<Batch> batches = ReadSpool();
        Assert.Equal(2, batches.Count);
        Assert.Equal(keptId, batches[0].Id);
        Assert.Equal([("before", 3L)], batches[0].Entries.Select(e => (System.Text.Encoding.UTF8.GetString(e.Key), e.Value)));
        Assert.Equal([("after", 2L)], batches[1].Entries.Select(e => (System.Text.Encoding.UTF8.GetString(e.Key), e.Value)));

        // The restart resends the kept batch with the same id (the receiver ignores it) and then the live counts, at once.
        Assert.Equal(3, receiver.TotalHits);
        receiver.Mode = ReceiverMode.Accept;
        await using (var second = InProcessServer.Start(settings))
        {
            Assert.True(await receiver.WaitForTotalAsync(5, Deadline));
            await Wait.Until(() => !File.Exists(SpoolPath), "the spool file stayed after its batches were accepted");
            Assert.Equal(0, await second.Server.StopAsync());
        }

        Assert.Equal(new Dictionary<string, long> { ["before"] = 3, ["after"] = 2 }, receiver.Totals.ToDictionary(p => p.Key, p => p.Value));
        Assert.False(File.Exists(SpoolPath));
    }

    [Fact]
    public async Task A_corrupt_spool_is_moved_aside_and_the_server_runs_without_it()
    {
        File.WriteAllText(SpoolPath, "pixel-ping spool 1\nbatch x 1 1\n1 a\n");
        await using var receiver = new EndpointReceiver();
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver) with { Spool = SpoolPath });

        Assert.False(File.Exists(SpoolPath));
        string aside = Assert.Single(Directory.GetFiles(_dir, "spool.txt.corrupt-*"));
        Assert.Equal("pixel-ping spool 1\nbatch x 1 1\n1 a\n", File.ReadAllText(aside));
        Assert.Equal(0, server.Server.Flusher.PendingCount);
        Hit(server, "works", 1);
        Assert.True(await receiver.WaitForTotalAsync(1, Deadline));
    }

    [Fact]
    public async Task A_spool_that_cannot_be_written_never_stops_delivery()
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Status500 };
        string unwritable = Path.Combine(_dir, "no-such-directory", "spool.txt");
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver) with { Spool = unwritable });
        Hit(server, "k", 2);
        Assert.True(await receiver.WaitForRequestsAsync(2, Deadline));

        receiver.Mode = ReceiverMode.Accept;
        Assert.True(await receiver.WaitForTotalAsync(2, Deadline));
        Assert.Equal(2, receiver.Totals["k"]);
    }

    [Fact]
    public async Task Discard_removes_a_failed_batch_from_the_spool_too()
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Status500 };
        var settings = InProcessServer.Defaults(receiver, intervalSeconds: 3600) with { Spool = SpoolPath, Discard = true };
        await using var server = InProcessServer.Start(settings);
        Hit(server, "dropped", 2);

        Assert.False(await server.Server.Flusher.FlushAsync());

        Assert.Equal(0, server.Server.Flusher.PendingCount);
        Assert.False(File.Exists(SpoolPath));
    }

    [Fact]
    public async Task The_keys_of_a_delivered_batch_are_handed_back_without_waiting_for_the_runtime_to_collect()
    {
        // A key flood's batches die in the oldest generation, which the runtime left uncollected through four or five
        // batches (70 MB where the memory bound in docs/operations.md counts one batch of garbage): the flusher
        // collects itself.
        await using var receiver = new EndpointReceiver { KeepRequests = false };
        const int keys = 60_000;
        var store = new HitStore(keys);
        var flusher = new Flusher(store, new HttpEndpoint(new EndpointClient(new Uri(receiver.Url), TimeSpan.FromSeconds(10)), null),
            new FlushOptions(TimeSpan.FromHours(1), false, false, 64));
        using var stop = new CancellationTokenSource();
        Task loop = flusher.RunAsync(stop.Token);
        for (int i = 0; i < keys; i++)
        {
            store.Record(System.Text.Encoding.ASCII.GetBytes("released-key-" + i));
        }

        WeakReference[] held = WeakKeys(store);
        Assert.Equal(keys, held.Length);

        flusher.Request();
        Assert.True(await receiver.WaitForTotalAsync(keys, Deadline), "the batch was not delivered");
        await Wait.Until(() => held.All(w => !w.IsAlive), "the delivered batch's keys are still in memory", TimeSpan.FromSeconds(10));
        stop.Cancel();
        await loop;
    }

    // Not inlined, so that no reference to a key outlives it on the test's stack.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference[] WeakKeys(HitStore store) => [.. store.Peek().Entries.Select(e => new WeakReference(e.Key))];

    [Fact]
    public async Task Flush_requests_racing_the_interval_never_throw()
    {
        // A 1 ms interval makes timed-out waits race the requests all the time; a wake-up count capped at one used to
        // throw SemaphoreFullException here (in a signal handler or in the hit that reached the key cap).
        // Enough keys that each (log-only) flush outlasts the interval, so the loop often skips its wait.
        var store = new HitStore(100_000);
        for (int i = 0; i < 50_000; i++)
        {
            store.Record(System.Text.Encoding.ASCII.GetBytes("k" + i));
        }

        var flusher = new Flusher(store, endpoint: null, new FlushOptions(TimeSpan.FromMilliseconds(1), false, false, 64));
        using var stop = new CancellationTokenSource();
        Task loop = flusher.RunAsync(stop.Token);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Dedicated.Run(() =>
        {
            while (clock.Elapsed < TimeSpan.FromSeconds(1))
            {
                flusher.Request();
                Thread.SpinWait(200);
            }
        })));
        // No request threw (Task.WhenAll would have), and the loop is still running: a throw in it ends it.
        Assert.False(loop.IsCompleted, $"the flush loop ended during the race: {loop.Exception?.InnerException}");
        await stop.CancelAsync();
        await loop;
        Assert.True(loop.IsCompletedSuccessfully);
    }
}
