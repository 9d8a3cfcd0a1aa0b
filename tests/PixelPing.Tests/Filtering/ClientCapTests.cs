using System.Diagnostics;
using PixelPing.Filtering;

namespace PixelPing.Tests.Filtering;

public sealed class ClientCapTests
{
    private static readonly UInt128 s_alice = NetAddress.FromIPv4(0xC0000201);
    private static readonly UInt128 s_bob = NetAddress.FromIPv4(0xC0000202);

    private static ClientCap Cap(int maxHits, int maxEntries, TimeSpan interval) => new(maxHits, maxEntries, interval, SipHash.WithRandomKey());

    [Fact]
    public void Counts_up_to_the_cap_per_client_and_key()
    {
        ClientCap cap = Cap(3, 1000, TimeSpan.FromHours(1));
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(CapResult.Counted, cap.Admit(s_alice, "story:1"u8));
        }

        Assert.Equal(CapResult.OverCap, cap.Admit(s_alice, "story:1"u8));
        Assert.Equal(CapResult.OverCap, cap.Admit(s_alice, "story:1"u8));
        // Another key, another client: their own counts.
        Assert.Equal(CapResult.Counted, cap.Admit(s_alice, "story:2"u8));
        Assert.Equal(CapResult.Counted, cap.Admit(s_bob, "story:1"u8));
    }

    [Fact]
    public void A_full_table_counts_new_pairs_unchecked_and_still_caps_the_pairs_it_holds()
    {
        ClientCap cap = Cap(1, 8, TimeSpan.FromHours(1));
        int full = 0;
        for (uint i = 0; i < 1000; i++)
        {
            if (cap.Admit(NetAddress.FromIPv4(0x0A000000 + i), "k"u8) == CapResult.TableFull)
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
            if (cap.Admit(NetAddress.FromIPv4(0x0A000000 + i), "k"u8) == CapResult.OverCap)
            {
                overCap++;
            }
        }

        Assert.Equal(held, overCap);
    }

    [Fact]
    public void Empties_when_the_interval_ends()
    {
        ClientCap cap = Cap(1, 100, TimeSpan.FromMilliseconds(50));
        Assert.Equal(CapResult.Counted, cap.Admit(s_alice, "k"u8));
        var clock = Stopwatch.StartNew();
        // Within one window the pair stays capped; once a window has passed it is counted again.
        CapResult result;
        do
        {
            result = cap.Admit(s_alice, "k"u8);
        }
        while (result == CapResult.OverCap && clock.Elapsed < TimeSpan.FromSeconds(10));

        Assert.Equal(CapResult.Counted, result);
    }

    [Fact]
    public void Long_keys_are_hashed_whole()
    {
        ClientCap cap = Cap(1, 100, TimeSpan.FromHours(1));
        byte[] a = new byte[5000];
        byte[] b = new byte[5000];
        b[^1] = 1;
        Assert.Equal(CapResult.Counted, cap.Admit(s_alice, a));
        Assert.Equal(CapResult.Counted, cap.Admit(s_alice, b));
        Assert.Equal(CapResult.OverCap, cap.Admit(s_alice, a));
    }
}
