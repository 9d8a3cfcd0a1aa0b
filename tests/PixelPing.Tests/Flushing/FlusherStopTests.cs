using System.Net;
using System.Net.Sockets;
using System.Text;
using PixelPing.Counting;
using PixelPing.Flushing;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Flushing;

/// <summary>
/// The two ways the flusher ends, the graceful stop's save and a second stop signal's exit path, meeting at every
/// instant of a flush, whichever gets there first: every hit counted ends up delivered, in the spool file, or in the
/// count of those lost, and both ways report the same count. The instants nothing outside the process can hold still
/// (logging keys, encoding, the save itself) are held with the flusher's <see cref="Flusher.Pause"/>.
/// </summary>
public sealed class FlusherStopTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private const string Reason = "test: a second stop signal";
    private readonly string _dir = TempDir.Create();

    private string SpoolPath => Path.Combine(_dir, "spool.txt");

    private (HitStore Store, Flusher Flusher) Make(string endpoint, bool spool, Hold? hold = null, TimeSpan? timeout = null, bool discard = false)
    {
        var store = new HitStore(100_000);
        var flusher = new Flusher(store, new HttpEndpoint(new EndpointClient(new Uri(endpoint), timeout ?? TimeSpan.FromSeconds(20)), null),
            new FlushOptions(TimeSpan.FromHours(1), discard, false, 64), spool ? new Spool(SpoolPath) : null)
        {
            Pause = hold is null ? null : hold.PauseAsync,
        };
        return (store, flusher);
    }

    private static void Count(HitStore store, string key, int times)
    {
        for (int i = 0; i < times; i++)
        {
            Assert.True(store.Record(Encoding.UTF8.GetBytes(key)));
        }
    }

    /// <summary>The spool file's hits per key; empty when there is no file.</summary>
    private Dictionary<string, long> Spooled()
    {
        var totals = new Dictionary<string, long>();
        if (!File.Exists(SpoolPath))
        {
            return totals;
        }

        Assert.Equal(SpoolLoadStatus.Loaded, new Spool(SpoolPath).Load(out List<Batch> batches, out string problem));
        Assert.Equal("", problem);
        foreach (KeyValuePair<byte[], long> entry in batches.SelectMany(b => b.Entries))
        {
            string key = Encoding.UTF8.GetString(entry.Key);
            totals[key] = totals.GetValueOrDefault(key) + entry.Value;
        }

        return totals;
    }

    [Theory]
    [InlineData(nameof(FlushStep.LoggingKeys), true)]
    [InlineData(nameof(FlushStep.LoggingKeys), false)]
    [InlineData(nameof(FlushStep.Encoding), true)]
    [InlineData(nameof(FlushStep.Encoding), false)]
    public async Task A_second_signal_while_the_final_flush_holds_a_batch_it_has_not_sent_saves_or_counts_all_of_it(string step, bool spool)
    {
        await using var receiver = new EndpointReceiver();
        var hold = new Hold(Enum.Parse<FlushStep>(step));
        (HitStore store, Flusher flusher) = Make(receiver.Url, spool, hold);
        Count(store, "taken", 5);
        Task<long> graceful = flusher.FinishAsync();
        await hold.Reached.WaitAsync(Deadline);
        // Counted after the final flush took the store: the exit path's own take has them.
        Count(store, "after", 2);

        long lost = flusher.SaveBeforeExit(Reason);

        // Nothing more is counted, so nothing more can be answered as counted.
        Assert.False(store.Record("late"u8));
        hold.Release();
        Assert.Equal(lost, await graceful.WaitAsync(Deadline));
        // Once the exit path has taken over, the flush sends nothing.
        Assert.Equal(0, receiver.Requests);
        if (spool)
        {
            Assert.Equal(0, lost);
            Assert.Equal(new Dictionary<string, long> { ["taken"] = 5, ["after"] = 2 }, Spooled());
        }
        else
        {
            Assert.Equal(7, lost);
            Assert.False(File.Exists(SpoolPath));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_second_signal_while_the_final_flush_connects_saves_or_counts_the_batch(bool spool)
    {
        // An https endpoint that accepts the connection and never answers the handshake: the flush is connecting, and
        // not a byte of the request has gone out.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen();
        Task<Socket> accepted = silent.AcceptAsync();
        (HitStore store, Flusher flusher) = Make($"https://127.0.0.1:{((IPEndPoint)silent.LocalEndPoint!).Port}/hits", spool);
        Count(store, "connecting", 4);
        Task<long> graceful = flusher.FinishAsync();
        using Socket connection = await accepted.WaitAsync(Deadline);

        long lost = flusher.SaveBeforeExit(Reason);

        // The handshake fails now, and the flush ends without touching what the exit path took.
        connection.Close();
        Assert.Equal(lost, await graceful.WaitAsync(Deadline));
        Assert.Equal(spool ? 0 : 4, lost);
        Assert.Equal(spool ? new Dictionary<string, long> { ["connecting"] = 4 } : new Dictionary<string, long>(), Spooled());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_second_signal_while_the_final_flush_waits_for_the_answer_saves_or_counts_the_batch(bool spool)
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Hang };
        (HitStore store, Flusher flusher) = Make(receiver.Url, spool, timeout: TimeSpan.FromSeconds(2));
        Count(store, "unanswered", 3);
        Task<long> graceful = flusher.FinishAsync();
        Assert.True(await receiver.WaitForRequestsAsync(1, Deadline), "the final flush did not send its batch");
        Count(store, "after", 1);

        long lost = flusher.SaveBeforeExit(Reason);

        Assert.Equal(lost, await graceful.WaitAsync(Deadline));
        Assert.Equal(spool ? 0 : 4, lost);
        Assert.Equal(spool ? new Dictionary<string, long> { ["unanswered"] = 3, ["after"] = 1 } : new Dictionary<string, long>(), Spooled());
        Assert.Equal(1, receiver.Requests);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_second_signal_during_the_graceful_save_waits_for_it_and_reports_its_count(bool spool)
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Status500 };
        var hold = new Hold(FlushStep.Saving);
        (HitStore store, Flusher flusher) = Make(receiver.Url, spool, hold);
        Count(store, "refused", 6);
        Assert.False(await flusher.FlushAsync());
        // Behind the refused batch, so in the store until the last take: only the graceful save writes them.
        Count(store, "later", 2);
        Task<long> graceful = flusher.FinishAsync();
        await hold.Reached.WaitAsync(Deadline);

        // The exit path on a thread of its own, as a signal handler runs: what the spool file holds when it returns is
        // what the process would leave behind, since the process exits right after.
        long exitLost = -1;
        Dictionary<string, long>? spooledAtExit = null;
        var exit = new Thread(() =>
        {
            exitLost = flusher.SaveBeforeExit(Reason);
            spooledAtExit = Spooled();
        });
        exit.Start();
        await Wait.Until(() => !exit.IsAlive || (exit.ThreadState & ThreadState.WaitSleepJoin) != 0,
            "the exit path neither returned nor waited");
        hold.Release();
        Assert.True(exit.Join(Deadline), "the exit path did not return once the graceful save was done");

        long lost = await graceful.WaitAsync(Deadline);
        Assert.Equal(lost, exitLost);
        Assert.Equal(spool ? 0 : 8, lost);
        Assert.Equal(spool ? new Dictionary<string, long> { ["refused"] = 6, ["later"] = 2 } : new Dictionary<string, long>(), spooledAtExit);
        Assert.False(store.Record("late"u8));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task When_the_last_save_fails_the_count_is_what_the_old_spool_file_does_not_hold(bool exitNow)
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Status500 };
        (HitStore store, Flusher flusher) = Make(receiver.Url, spool: true);
        Count(store, "saved", 3);
        Assert.False(await flusher.FlushAsync());
        Assert.Equal(new Dictionary<string, long> { ["saved"] = 3 }, Spooled());

        // From now on every save fails (the temporary file's name is taken by a directory), as on a full disk.
        Directory.CreateDirectory(SpoolPath + ".tmp");
        Count(store, "unsaved", 2);

        long lost = exitNow ? flusher.SaveBeforeExit(Reason) : await flusher.FinishAsync().WaitAsync(Deadline);

        Assert.Equal(2, lost);
        Assert.Equal(new Dictionary<string, long> { ["saved"] = 3 }, Spooled());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_send_that_throws_keeps_its_batch_with_or_without_a_spool(bool spool)
    {
        // 304 characters: the resolver refuses it with an exception, not a failed lookup. The config refuses such a
        // name now; any other exception from a send must be as harmless.
        string host = string.Join('.', Enumerable.Repeat(new string('a', 60), 5));
        Assert.Equal(304, host.Length);
        (HitStore store, Flusher flusher) = Make($"http://{host}/hits", spool);
        Count(store, "kept", 15);

        Assert.False(await flusher.FlushAsync());

        Assert.Equal(1, flusher.Failed);
        Assert.Equal(15, flusher.Kept?.Hits);
        Count(store, "later", 5);
        long lost = await flusher.FinishAsync().WaitAsync(Deadline);
        Assert.Equal(2, flusher.Failed);
        Assert.Equal(spool ? 0 : 20, lost);
        Assert.Equal(spool ? new Dictionary<string, long> { ["kept"] = 15, ["later"] = 5 } : new Dictionary<string, long>(), Spooled());
    }

    [Fact]
    public async Task Hits_discarded_by_the_final_flush_count_as_lost()
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Status500 };
        (HitStore store, Flusher flusher) = Make(receiver.Url, spool: true, discard: true);
        Count(store, "dropped", 4);

        Assert.Equal(4, await flusher.FinishAsync().WaitAsync(Deadline));
        Assert.False(File.Exists(SpoolPath));
    }

    /// <summary>Holds the flush at one step until released.</summary>
    private sealed class Hold(FlushStep at)
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Reached => _reached.Task;

        public void Release() => _release.TrySetResult();

        public Task PauseAsync(FlushStep step)
        {
            if (step != at)
            {
                return Task.CompletedTask;
            }

            _reached.TrySetResult();
            return _release.Task;
        }
    }
}
