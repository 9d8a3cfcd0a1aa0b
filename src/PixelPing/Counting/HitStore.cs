using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PixelPing.Filtering;

namespace PixelPing.Counting;

/// <summary>
/// Hit counts per key, held until a flush takes them. Keys live in shards, each behind its own lock, so writers on
/// different cores rarely meet; a flush swaps every shard's dictionary under that shard's lock, so each hit lands in
/// exactly one batch whatever the concurrency.
/// </summary>
internal sealed class HitStore
{
    private readonly Shard[] _shards;
    private readonly int _shardMask;
    private readonly int _maxKeys;
    private int _distinct;
    private long _refusedFull;
    private long _refusedTooLong;
    private long _refusedFullTotal;
    private long _refusedTooLongTotal;
    private readonly long[] _ignored = new long[IgnoredHits.Slots];
    private readonly long[] _ignoredTotal = new long[IgnoredHits.Slots];
    private long _uncapped;
    private int _capSignalled;

    public HitStore(int maxKeys, int shardCount = 0)
    {
        _maxKeys = maxKeys;
        if (shardCount <= 0)
        {
            shardCount = (int)Math.Min(64, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount));
        }

        _shards = new Shard[shardCount];
        for (int i = 0; i < _shards.Length; i++)
        {
            _shards[i] = new Shard();
        }

        _shardMask = shardCount - 1;
    }

    /// <summary>Raised (from the hit's thread) the first time the key cap is reached after a swap.</summary>
    public event Action? CapReached;

    public int MaxKeys => _maxKeys;

    /// <summary>Distinct keys held now.</summary>
    public int DistinctKeys => Volatile.Read(ref _distinct);

    /// <summary>
    /// Every hit counted since the start (not those added back from the spool). Each shard counts its own under the
    /// lock it already holds, so the total is exact and costs the hot path no extra shared write.
    /// </summary>
    public long HitsTotal
    {
        get
        {
            long sum = 0;
            foreach (Shard shard in _shards)
            {
                sum += Volatile.Read(ref shard.Hits);
            }

            return sum;
        }
    }

    /// <summary>Hits refused since the start because a new key would pass maxkeys.</summary>
    public long RefusedFullTotal => Interlocked.Read(ref _refusedFullTotal);

    /// <summary>Hits refused since the start because the key was longer than maxkeylength.</summary>
    public long RefusedTooLongTotal => Interlocked.Read(ref _refusedTooLongTotal);

    /// <summary>Counts a hit on the key; a new key past maxkeys is refused (and counted in <see cref="RefusedFullTotal"/>).</summary>
    public void Record(ReadOnlySpan<byte> key)
    {
        int hash = KeyComparer.Hash(key);
        Shard shard = _shards[hash & _shardMask];
        lock (shard)
        {
            ref long count = ref CollectionsMarshal.GetValueRefOrNullRef(shard.Lookup, key);
            if (!Unsafe.IsNullRef(ref count))
            {
                count++;
                shard.Hits++;
                return;
            }

            if (Interlocked.Increment(ref _distinct) > _maxKeys)
            {
                Interlocked.Decrement(ref _distinct);
                Interlocked.Increment(ref _refusedFull);
                Interlocked.Increment(ref _refusedFullTotal);
                SignalCap();
                return;
            }

            shard.Lookup[key] = 1;
            shard.Hits++;
        }

        if (Volatile.Read(ref _distinct) >= _maxKeys)
        {
            SignalCap();
        }
    }

    /// <summary>Counts a hit whose key was longer than the configured maximum.</summary>
    public void RefuseTooLong()
    {
        Interlocked.Increment(ref _refusedTooLong);
        Interlocked.Increment(ref _refusedTooLongTotal);
    }

    /// <summary>Tallies a hit a filter ignored (it was answered, not counted).</summary>
    public void Ignore(IgnoreReason reason)
    {
        Interlocked.Increment(ref _ignored[(int)reason]);
        Interlocked.Increment(ref _ignoredTotal[(int)reason]);
    }

    /// <summary>Hits the filters ignored since the start, for this reason.</summary>
    public long IgnoredTotal(IgnoreReason reason) => Interlocked.Read(ref _ignoredTotal[(int)reason]);

    /// <summary>Tallies a hit counted without the per-client cap because the client table was full.</summary>
    public void CountUncapped() => Interlocked.Increment(ref _uncapped);

    /// <summary>Takes every count held (the store is empty afterwards) and the refusals since the last take.</summary>
    public Snapshot Take() => Collect(clear: true);

    /// <summary>
    /// Copies every count held without clearing (the log-only mode keeps cumulative counts); the refusals and ignored
    /// hits are still taken, so that each is reported once.
    /// </summary>
    public Snapshot Peek() => Collect(clear: false);

    private Snapshot Collect(bool clear)
    {
        var taken = new Dictionary<byte[], long>[_shards.Length];
        int total = 0;
        for (int i = 0; i < _shards.Length; i++)
        {
            Shard shard = _shards[i];
            lock (shard)
            {
                if (clear)
                {
                    taken[i] = shard.Swap();
                    Interlocked.Add(ref _distinct, -taken[i].Count);
                }
                else
                {
                    taken[i] = new Dictionary<byte[], long>(shard.Map, KeyComparer.Instance);
                }
            }

            total += taken[i].Count;
        }

        var entries = new KeyValuePair<byte[], long>[total];
        int n = 0;
        foreach (Dictionary<byte[], long> map in taken)
        {
            foreach (KeyValuePair<byte[], long> entry in map)
            {
                entries[n++] = entry;
            }
        }

        long full = Interlocked.Exchange(ref _refusedFull, 0);
        long tooLong = Interlocked.Exchange(ref _refusedTooLong, 0);
        long[] ignored = new long[_ignored.Length];
        for (int i = 0; i < ignored.Length; i++)
        {
            ignored[i] = Interlocked.Exchange(ref _ignored[i], 0);
        }

        long uncapped = Interlocked.Exchange(ref _uncapped, 0);
        if (clear)
        {
            Volatile.Write(ref _capSignalled, 0);
        }

        return new Snapshot(entries, full, tooLong, new IgnoredHits(ignored, uncapped));
    }

    private void SignalCap()
    {
        if (Interlocked.CompareExchange(ref _capSignalled, 1, 0) == 0)
        {
            CapReached?.Invoke();
        }
    }

    private sealed class Shard
    {
        public Dictionary<byte[], long> Map = new(KeyComparer.Instance);
        public Dictionary<byte[], long>.AlternateLookup<ReadOnlySpan<byte>> Lookup;

        // Written only under the shard's lock; read without it (a 64-bit read is atomic on the 64-bit targets).
        public long Hits;

        public Shard() => Lookup = Map.GetAlternateLookup<ReadOnlySpan<byte>>();

        public Dictionary<byte[], long> Swap()
        {
            Dictionary<byte[], long> old = Map;
            // Pre-size from the last batch: the same pages tend to be hit in the next interval too.
            Map = new Dictionary<byte[], long>(Math.Min(old.Count, 1 << 16), KeyComparer.Instance);
            Lookup = Map.GetAlternateLookup<ReadOnlySpan<byte>>();
            return old;
        }
    }
}

/// <summary>Counts taken from the store, and the hits refused since the previous take.</summary>
internal sealed record Snapshot(KeyValuePair<byte[], long>[] Entries, long RefusedFull, long RefusedTooLong, IgnoredHits Ignored)
{
    public long Hits => Sum(Entries);

    /// <summary>The hits in a set of counts.</summary>
    public static long Sum(KeyValuePair<byte[], long>[] entries)
    {
        long sum = 0;
        foreach (KeyValuePair<byte[], long> entry in entries)
        {
            sum += entry.Value;
        }

        return sum;
    }
}
