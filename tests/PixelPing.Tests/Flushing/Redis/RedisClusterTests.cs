using System.Text;
using PixelPing.Flushing;
using PixelPing.Flushing.Redis;
using PixelPing.Tests.Support;
using static PixelPing.Tests.Flushing.Redis.RedisStoreTests;

namespace PixelPing.Tests.Flushing.Redis;

/// <summary>Batches stored in a real three-master Redis Cluster: each test's keys in a slot of their own.</summary>
public sealed class RedisClusterTests(RedisCluster cluster) : IClassFixture<RedisCluster>
{
    private static readonly DateOnly Day = new(2026, 3, 1);

    [Fact]
    public async Task Hash_slots_agree_with_CLUSTER_KEYSLOT()
    {
        var keys = new List<byte[]>();
        for (int b = 0; b < 256; b++)
        {
            keys.Add([(byte)b]);
            keys.Add([(byte)'{', (byte)b, (byte)'}', (byte)'x']);
            keys.Add([.. "/page?"u8, (byte)b, .. "\r\n{"u8, (byte)(255 - b)]);
        }

        keys.Add("{pixel-ping}:hits"u8.ToArray());
        keys.Add("{}{a}"u8.ToArray());
        foreach (byte[] key in keys)
        {
            Assert.Equal((await cluster.Nodes[0].CommandAsync("CLUSTER", "KEYSLOT", key)).Integer, HashSlot.Of(key));
        }
    }

    [Fact]
    public async Task A_batch_follows_MOVED_to_its_slot_the_node_is_remembered_and_a_moved_slot_is_followed()
    {
        (RedisKeys keys, Support.Redis owner) = await KeysNotOnAsync(cluster.Nodes[0], "moved");
        Support.Redis seed = cluster.Nodes[0];
        await using RedisStore store = Store(cluster.Url, keys);
        KeyValuePair<byte[], long>[] first = Entries(("/a", 1), ("/b", 2));

        long moved = await RedisCluster.CountAsync(seed, "errorstats", "errorstat_MOVED");
        Assert.Equal(FlushOutcome.Stored(), await store.StoreAsync("b-1", Day, first, CancellationToken.None));
        Assert.Equal(moved + 1, await RedisCluster.CountAsync(seed, "errorstats", "errorstat_MOVED"));
        AssertCounts(first, await HashAsync(owner, keys.Totals));

        // The owner is remembered: the next batch goes straight to it.
        Assert.Equal(FlushOutcome.Stored(), await store.StoreAsync("b-2", Day, first, CancellationToken.None));
        Assert.Equal(moved + 1, await RedisCluster.CountAsync(seed, "errorstats", "errorstat_MOVED"));

        // The slot moves to the third node between flushes: the former owner answers MOVED, which is followed.
        Support.Redis third = cluster.Nodes.Single(n => n != seed && n != owner);
        await cluster.BeginMoveAsync(keys.Slot, owner, third);
        await cluster.FinishMoveAsync(keys.Slot, third);
        long movedByOwner = await RedisCluster.CountAsync(owner, "errorstats", "errorstat_MOVED");

        Assert.Equal(FlushOutcome.Stored(), await store.StoreAsync("b-3", Day, first, CancellationToken.None));

        Assert.Equal(movedByOwner + 1, await RedisCluster.CountAsync(owner, "errorstats", "errorstat_MOVED"));
        AssertCounts(Entries(("/a", 3), ("/b", 6)), await HashAsync(third, keys.Totals));
        Assert.Equal(0, (await owner.CommandAsync("EXISTS", keys.Totals)).Integer);
    }

    [Fact]
    public async Task During_a_migration_ASK_is_followed_and_the_batch_is_stored_once_the_slot_has_moved()
    {
        (RedisKeys keys, Support.Redis owner) = await KeysNotOnAsync(cluster.Nodes[0], "ask");
        Support.Redis target = cluster.Nodes.Single(n => n != cluster.Nodes[0] && n != owner);
        await using RedisStore store = Store(cluster.Url, keys);
        KeyValuePair<byte[], long>[] entries = Entries(("/a", 1), ("/b", 2));
        Assert.Equal(FlushOutcome.Stored(), await store.StoreAsync("b-1", Day, entries, CancellationToken.None));

        // Every key carried over, the slot still the owner's: the owner answers ASK, the target takes the command only
        // after ASKING, and then (the batch's ledger key being new, so not all of its keys there yet) TRYAGAIN.
        await cluster.BeginMoveAsync(keys.Slot, owner, target);
        long ask = await RedisCluster.CountAsync(owner, "errorstats", "errorstat_ASK");
        long asking = await RedisCluster.CountAsync(target, "commandstats", "cmdstat_asking");

        FlushOutcome during = await store.StoreAsync("b-2", Day, entries, CancellationToken.None);

        Assert.Equal(FlushResult.Refused, during.Result);
        Assert.StartsWith("TRYAGAIN ", during.Reason, StringComparison.Ordinal);
        Assert.Equal(ask + 1, await RedisCluster.CountAsync(owner, "errorstats", "errorstat_ASK"));
        Assert.Equal(asking + 1, await RedisCluster.CountAsync(target, "commandstats", "cmdstat_asking"));
        // Nothing written anywhere: the two hashes and the first batch's ledger key, all carried over, and no more.
        Assert.Equal(3, (await target.CommandAsync("CLUSTER", "COUNTKEYSINSLOT", keys.Slot)).Integer);
        Assert.Equal(0, (await owner.CommandAsync("CLUSTER", "COUNTKEYSINSLOT", keys.Slot)).Integer);

        await cluster.FinishMoveAsync(keys.Slot, target);
        Assert.Equal(FlushOutcome.Stored(), await store.StoreAsync("b-2", Day, entries, CancellationToken.None));

        AssertCounts(Entries(("/a", 2), ("/b", 4)), await HashAsync(target, keys.Totals));
        AssertCounts(Entries(("/a", 2), ("/b", 4)), await HashAsync(target, keys.Day(Day)));
    }

    [Fact]
    public async Task A_hundred_thousand_keys_reach_the_slot_owner_exactly()
    {
        (RedisKeys keys, Support.Redis owner) = await KeysNotOnAsync(cluster.Nodes[0], "many");
        await using RedisStore store = Store(cluster.Url, keys);
        KeyValuePair<byte[], long>[] entries = [.. Enumerable.Range(0, 100_000)
            .Select(i => KeyValuePair.Create(Encoding.UTF8.GetBytes("/p/" + i), (long)(i % 7) + 1))];

        Assert.Equal(FlushOutcome.Stored(), await store.StoreAsync("b-1", Day, entries, CancellationToken.None));

        AssertCounts(entries, await HashAsync(owner, keys.Totals));
    }

    [Fact]
    public async Task When_the_remembered_owner_is_gone_the_configured_node_names_the_new_one()
    {
        // A Cluster of this test's own, since a node of it is killed.
        var own = new RedisCluster();
        await own.InitializeAsync();
        try
        {
            Support.Redis seed = own.Nodes[0];
            RedisKeys keys;
            Support.Redis owner;
            for (int i = 0; ; i++)
            {
                keys = MakeKeys($"{{pp-gone-{i}}}");
                owner = await own.OwnerAsync(keys.Slot);
                if (owner != seed)
                {
                    break;
                }
            }

            Support.Redis heir = own.Nodes.Single(n => n != seed && n != owner);
            await using RedisStore store = Store(own.Url, keys);
            Assert.Equal(FlushOutcome.Stored(), await store.StoreAsync("b-1", Day, Entries(("/a", 1)), CancellationToken.None));

            // The slot moves to the heir and its former owner goes away: the store's kept connection and the address
            // it remembers both lead nowhere.
            await own.BeginMoveAsync(keys.Slot, owner, heir);
            await own.FinishMoveAsync(keys.Slot, heir);
            owner.Kill();

            FlushOutcome outcome = await store.StoreAsync("b-2", Day, Entries(("/a", 1)), CancellationToken.None);

            Assert.True(outcome.Result == FlushResult.Delivered, outcome.Reason);
            AssertCounts(Entries(("/a", 2)), await HashAsync(heir, keys.Totals));
        }
        finally
        {
            await own.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_Cluster_has_only_database_0()
    {
        var url = new Uri($"redis://:{Uri.EscapeDataString(Support.Redis.Password)}@127.0.0.1:{cluster.Nodes[0].Port}/1");
        await using RedisStore store = Store(url);

        Assert.Equal("endpoint: warning: SELECT 1: ERR SELECT is not allowed in cluster mode (a Redis Cluster has only database 0)",
            await store.ProbeAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_probe_finds_the_slot_owner_and_says_Cluster()
    {
        (RedisKeys keys, _) = await KeysNotOnAsync(cluster.Nodes[0], "probe");
        await using RedisStore store = Store(cluster.Url, keys);

        Assert.Matches(@"^endpoint: Redis 7\.\d+\.\d+ Cluster, ready$", await store.ProbeAsync(CancellationToken.None));
    }

    /// <summary>A prefix of this test's own whose slot is served by a node other than <paramref name="seed"/>.</summary>
    private async Task<(RedisKeys Keys, Support.Redis Owner)> KeysNotOnAsync(Support.Redis seed, string name)
    {
        for (int i = 0; ; i++)
        {
            RedisKeys keys = MakeKeys($"{{pp-{name}-{i}}}");
            Support.Redis owner = await cluster.OwnerAsync(keys.Slot);
            if (owner != seed)
            {
                return (keys, owner);
            }
        }
    }
}
