using System.Text;
using PixelPing.Counting;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Counting;

public sealed class HitStoreTests
{
    private static byte[] K(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void A_take_says_when_its_first_and_last_hit_were_counted_on_one_UTC_day()
    {
        var store = new HitStore(100);
        Assert.Equal((0L, 0L), (store.Take().From, store.Take().To));
        long started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Thread[] threads = [.. Enumerable.Range(0, 3).Select(t => new Thread(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                store.Record("k"u8);
            }
        }))];
        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        Snapshot taken = store.Take();
        long ended = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        Assert.Equal(300, taken.Hits);
        // The hits read a clock refreshed each second, and a take refreshes it: a second behind at most.
        Assert.InRange(taken.From, started - 1, taken.To);
        Assert.InRange(taken.To, taken.From, ended);
        Assert.Equal(taken.From / 86400, taken.To / 86400);
        Snapshot empty = store.Take();
        Assert.Equal((0L, 0L), (empty.From, empty.To));
    }

    [Fact]
    public void Counts_per_key_and_take_empties_the_store()
    {
        var store = new HitStore(100);
        store.Record(K("a"));
        store.Record(K("a"));
        store.Record(K("b"));
        Snapshot taken = store.Take();
        Assert.Equal(3, taken.Hits);
        Assert.Equal(2, taken.Entries.Single(e => e.Key.SequenceEqual(K("a"))).Value);
        Assert.Empty(store.Take().Entries);
        Assert.Equal(0, store.DistinctKeys);
    }

    [Fact]
    public void Each_take_or_peek_opens_a_new_window_and_a_hit_of_an_ended_one_is_not_counted()
    {
        var store = new HitStore(100);
        long first = store.Window;
        Assert.Equal(RecordOutcome.Counted, store.RecordIn(K("a"), first));
        store.Peek();
        long second = store.Window;
        Assert.NotEqual(first, second);
        Assert.Equal(RecordOutcome.WindowEnded, store.RecordIn(K("a"), first));
        Assert.Equal(RecordOutcome.Counted, store.RecordIn(K("a"), second));
        Assert.Equal(2, store.Take().Hits);
        Assert.NotEqual(second, store.Window);
        Assert.Equal(RecordOutcome.WindowEnded, store.RecordIn(K("a"), second));
        Assert.Equal(0, store.Take().Hits);
    }

    [Fact]
    public void A_hit_on_a_known_key_allocates_nothing()
    {
        var store = new HitStore(100);
        byte[] key = K("document:42");
        store.Record(key);
        store.Record(key);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            store.Record(key);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_002, store.Peek().Hits);
    }

    [Fact]
    public void The_key_cap_refuses_new_keys_counts_the_refusals_and_signals_once()
    {
        var store = new HitStore(3);
        int signals = 0;
        store.CapReached += () => Interlocked.Increment(ref signals);
        store.Record(K("1"));
        store.Record(K("2"));
        store.Record(K("3"));
        Assert.Equal(1, signals);
        store.Record(K("4"));
        Assert.Equal(1, store.RefusedFullTotal);
        store.Record(K("1"));
        Assert.Equal(1, signals);
        Snapshot taken = store.Take();
        Assert.Equal(1, taken.RefusedFull);
        Assert.Equal(4, taken.Hits);
        Assert.Equal([("1", 2L), ("2", 1L), ("3", 1L)], taken.Entries.Select(e => (Encoding.UTF8.GetString(e.Key), e.Value)).Order());
        store.Record(K("4"));
        Assert.Equal(1, store.RefusedFullTotal);
        Assert.Equal([("4", 1L)], store.Take().Entries.Select(e => (Encoding.UTF8.GetString(e.Key), e.Value)));
    }

    [Fact]
    public void Each_thread_counts_in_its_own_partition_and_the_cap_counts_a_key_once_whichever_threads_saw_it()
    {
        var store = new HitStore(2);
        // Dedicated threads, one after another: each is a different writer, as each event loop is.
        void On(params string[] keys)
        {
            var thread = new Thread(() =>
            {
                foreach (string key in keys)
                {
                    store.Record(K(key));
                }
            });
            thread.Start();
            thread.Join();
        }

        On("x", "x");
        On("x", "y");
        Assert.Equal(2, store.DistinctKeys);
        On("z", "y");
        Assert.Equal(1, store.RefusedFullTotal);
        Assert.Equal(5, store.HitsTotal);
        Snapshot taken = store.Take();
        Assert.Equal([("x", 3L), ("y", 2L)], taken.Entries.Select(e => (Encoding.UTF8.GetString(e.Key), e.Value)).Order());
        Assert.Equal(1, taken.RefusedFull);
        // After the take every thread starts afresh: the key refused before is admitted now.
        On("z");
        Assert.Equal([("z", 1L)], store.Take().Entries.Select(e => (Encoding.UTF8.GetString(e.Key), e.Value)));
    }

    [Fact]
    public async Task Concurrent_writers_and_repeated_takes_lose_and_double_nothing()
    {
        var store = new HitStore(1000);
        const int writers = 4;
        const int perWriter = 1_000_000;
        var totals = new Dictionary<string, long>();
        long taken = 0;
        using var done = new CancellationTokenSource();
        Task taker = Dedicated.Run(() =>
        {
            while (!done.IsCancellationRequested)
            {
                taken += Merge(store.Take(), totals);
            }
        });
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Dedicated.Run(() =>
        {
            byte[][] keys = Enumerable.Range(0, 50).Select(i => K($"k{i}")).ToArray();
            for (int i = 0; i < perWriter; i++)
            {
                store.Record(keys[(i + w) % keys.Length]);
            }
        })));
        done.Cancel();
        await taker;
        taken += Merge(store.Take(), totals);
        Assert.Equal((long)writers * perWriter, taken);
        Assert.Equal(50, totals.Count);
        Assert.All(totals.Values, v => Assert.Equal((long)writers * perWriter / 50, v));
    }

    [Fact]
    public async Task After_the_last_take_no_hit_is_counted_and_every_hit_counted_before_is_in_a_batch()
    {
        var store = new HitStore(100_000);
        const int writers = 4;
        long[] counted = new long[writers];
        using var started = new CountdownEvent(writers);
        using var giveUp = new CancellationTokenSource();
        Task[] writing = [.. Enumerable.Range(0, writers).Select(w => Dedicated.Run(() =>
        {
            byte[][] keys = [.. Enumerable.Range(0, 500).Select(i => K($"w{w}-{i}"))];
            for (long i = 0; !giveUp.IsCancellationRequested; i++)
            {
                if (!store.Record(keys[i % keys.Length]))
                {
                    return;
                }

                if (++counted[w] == 1000)
                {
                    started.Signal();
                }
            }
        }))];
        Assert.True(started.Wait(TimeSpan.FromSeconds(30)), "the writers did not start");
        Snapshot before = store.Take();

        // Taken while every writer is counting: each hit a writer saw counted is in one of the two batches.
        Snapshot last = store.TakeLast();
        bool stopped = true;
        try
        {
            await Task.WhenAll(writing).WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            stopped = false;
        }

        await giveUp.CancelAsync();
        await Task.WhenAll(writing);
        Assert.True(stopped, "a writer was still counting after the last take");

        Assert.Equal(counted.Sum(), before.Hits + last.Hits);
        Assert.False(store.Record(K("late")));
        Assert.Empty(store.Take().Entries);
    }

    private static long Merge(Snapshot snapshot, Dictionary<string, long> totals)
    {
        foreach (KeyValuePair<byte[], long> entry in snapshot.Entries)
        {
            string key = Encoding.UTF8.GetString(entry.Key);
            totals[key] = totals.GetValueOrDefault(key) + entry.Value;
        }

        return snapshot.Hits;
    }
}
