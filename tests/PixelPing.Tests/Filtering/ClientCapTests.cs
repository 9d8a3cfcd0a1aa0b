using System.Diagnostics;
using System.Text;
using PixelPing.Counting;
using PixelPing.Filtering;
using PixelPing.Http;
using PixelPing.Net;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Filtering;

public sealed class ClientCapTests
{
    private static readonly UInt128 s_alice = NetAddress.FromIPv4(0xC0000201);
    private static readonly UInt128 s_bob = NetAddress.FromIPv4(0xC0000202);

    private static ClientCap Cap(int maxHits, int maxEntries) => new(maxHits, maxEntries, SipHash.WithRandomKey());

    [Fact]
    public void Counts_up_to_the_cap_per_client_and_key()
    {
        ClientCap cap = Cap(3, 1000);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(CapResult.Counted, cap.Admit(s_alice, "story:1"u8, 0));
        }

        Assert.Equal(CapResult.OverCap, cap.Admit(s_alice, "story:1"u8, 0));
        Assert.Equal(CapResult.OverCap, cap.Admit(s_alice, "story:1"u8, 0));
        // Another key, another client: their own counts.
        Assert.Equal(CapResult.Counted, cap.Admit(s_alice, "story:2"u8, 0));
        Assert.Equal(CapResult.Counted, cap.Admit(s_bob, "story:1"u8, 0));
    }

    [Fact]
    public void A_full_table_counts_new_pairs_unchecked_and_still_caps_the_pairs_it_holds()
    {
        ClientCap cap = Cap(1, 8);
        int full = 0;
        for (uint i = 0; i < 1000; i++)
        {
            if (cap.Admit(NetAddress.FromIPv4(0x0A000000 + i), "k"u8, 0) == CapResult.TableFull)
            {
                full++;
            }
        }

        // The table holds 8 pairs, rounded up to whole shards; every pair after that is unchecked.
        int held = 1000 - full;
        Assert.InRange(held, 8, 8 + 64);
        int overCap = 0;
        for (uint i = 0; i < 1000; i++)
        {
            if (cap.Admit(NetAddress.FromIPv4(0x0A000000 + i), "k"u8, 0) == CapResult.OverCap)
            {
                overCap++;
            }
        }

        Assert.Equal(held, overCap);
    }

    [Fact]
    public void Empties_when_a_new_window_begins_and_leaves_a_hit_of_an_ended_window_out()
    {
        ClientCap cap = Cap(1, 100);
        Assert.Equal(CapResult.Counted, cap.Admit(s_alice, "k"u8, 0));
        Assert.Equal(CapResult.OverCap, cap.Admit(s_alice, "k"u8, 0));
        Assert.Equal(CapResult.Counted, cap.Admit(s_alice, "k"u8, 1));
        // A hit checked in window 0 after window 1 began: the store will not count it in 0, and it costs 1 nothing.
        Assert.Equal(CapResult.Counted, cap.Admit(s_alice, "j"u8, 0));
        Assert.Equal(CapResult.Counted, cap.Admit(s_alice, "j"u8, 1));
        Assert.Equal(CapResult.OverCap, cap.Admit(s_alice, "j"u8, 1));
        Assert.Equal(CapResult.OverCap, cap.Admit(s_alice, "k"u8, 1));
    }

    [Fact]
    public void Long_keys_are_hashed_whole()
    {
        ClientCap cap = Cap(1, 100);
        byte[] a = new byte[5000];
        byte[] b = new byte[5000];
        b[^1] = 1;
        Assert.Equal(CapResult.Counted, cap.Admit(s_alice, a, 0));
        Assert.Equal(CapResult.Counted, cap.Admit(s_alice, b, 0));
        Assert.Equal(CapResult.OverCap, cap.Admit(s_alice, a, 0));
    }

    [Fact]
    public async Task A_batch_holds_at_most_the_cap_for_a_client_however_many_intervals_it_spans()
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Status500 };
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver) with { MaxHitsPerClient = 3 });
        Hit(server.Port, "first", 1);
        // The endpoint refuses that batch: it stays pending, and the hits that follow stay in the store, one batch to be.
        await Wait.Until(() => receiver.Requests >= 1, "a first, refused flush");
        Hit(server.Port, "capped", 5);
        int refused = receiver.Requests;
        // Three more refused flushes, an interval apart: more than an interval passes before the next hits.
        await Wait.Until(() => receiver.Requests >= refused + 3, "three more refused flushes");
        Hit(server.Port, "capped", 5);

        receiver.Mode = ReceiverMode.Accept;
        Assert.Equal(3, await server.DeliveredAsync(receiver, "capped"));
        // Taking the store starts the next window: hits count again, up to the cap in each batch (a timer's flush may
        // take the store in the middle of these five).
        Hit(server.Port, "capped", 5);
        Assert.InRange(await server.DeliveredAsync(receiver, "capped"), 6, 8);
        Assert.All(receiver.Received.Where(flush => flush.Stored), flush => Assert.InRange(flush.Counts.GetValueOrDefault("capped"), 0, 3));
    }

    [Fact]
    public async Task Hits_that_meet_a_take_never_put_more_than_the_cap_for_a_client_in_one_batch()
    {
        const int maxHits = 3;
        var store = new HitStore(1000);
        var filter = new HitFilter(false, false, null, false, null, null, null, Cap(maxHits, 1000));
        var pixels = new PixelApplication(store, 64, filter);
        var stats = new ServerStats();
        using var stop = new CancellationTokenSource();
        // Four clients, each on its own key, so that a batch's count for a key is that client's count.
        Task[] clients = [.. Enumerable.Range(1, 4).Select(client => Dedicated.Run(() =>
        {
            byte[] head = Encoding.ASCII.GetBytes($"GET /pixel.gif?key=k{client} HTTP/1.1\r\nHost: h\r\n\r\n");
            ParsedRequest parsed = new RequestParser().Parse(head, HttpLimits.Default);
            PeerAddress peer = PeerAddress.FromSocketAddress([2, 0, 0, 80, 192, 0, 2, (byte)client, 0, 0, 0, 0, 0, 0, 0, 0]);
            StatsShard shard = stats.NewShard();
            while (!stop.IsCancellationRequested)
            {
                pixels.Handle(new HttpRequest(head, in parsed, peer, keepAlive: true), shard);
            }
        }))];

        long full = 0;
        try
        {
            await Dedicated.Run(() =>
            {
                // Takes as fast as they come, so that many hits are checked in one window and counted after it ended,
                // until 300 batches reached the cap.
                var clock = Stopwatch.StartNew();
                while (full < 300 && clock.Elapsed < TimeSpan.FromSeconds(30))
                {
                    foreach (KeyValuePair<byte[], long> entry in store.Take().Entries)
                    {
                        Assert.InRange(entry.Value, 1, maxHits);
                        full += entry.Value == maxHits ? 1 : 0;
                    }
                }
            });
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(clients);
        }

        // Batches that reached the cap: the bound above was put to the test.
        Assert.True(full >= 300, $"only {full} batches reached the cap");
    }

    private static void Hit(int port, string key, int times)
    {
        using var client = new RawHttpClient(port);
        for (int i = 0; i < times; i++)
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=" + key).Status);
        }
    }
}
