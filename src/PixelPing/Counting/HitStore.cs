using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PixelPing.Filtering;

namespace PixelPing.Counting;

/// <summary>
/// Hit counts per key, held until a flush takes them. Each thread that counts (an event loop) has its own partition:
/// its own dictionary behind its own lock, which no other core writes, so a hit on a hot key costs no shared cache
/// line. Only a thread's first hit on a key in an interval goes further: to the shared count of distinct keys, where
/// maxkeys is enforced, and, once a second partition exists, to the shared set of admitted keys, so that a key several
/// loops count is one key. A take holds every partition's lock at once, so each hit lands in exactly one batch
/// whatever the concurrency, but only to exchange each partition's map for an empty one: the merge of the maps taken
/// happens after the locks are released, so a loop waits microseconds, not the length of a 100,000-key merge.
/// </summary>
internal sealed class HitStore
{
    private const long AnyWindow = -1;
    private const long SecondsPerDay = 86400;

    // The calling thread's partition of the store it last counted in (looked up again when it counts in another).
    [ThreadStatic]
    private static Partition? t_partition;

    private readonly Lock _partitionsLock = new();
    private readonly Dictionary<int, Partition> _byThread = [];
    private Partition[] _partitions = [];
    private readonly Admitted[] _admitted;
    private readonly int _admittedMask;

    // Whether there is more than one partition: only then can a key new to one partition be known to another, and the
    // admitted set is kept (a server on one CPU has one loop, and pays for no set). Read under a partition's lock,
    // written with every partition's lock held.
    private bool _shared;
    private readonly int _maxKeys;
    // Takes and peeks so far: the number of the batch now being counted. Bumped with every partition's lock held, so
    // under any one partition's lock it names the batch that partition's counts go to.
    private long _window;
    private int _distinct;
    private long _refusedFull;
    private long _refusedTooLong;
    private long _refusedFullTotal;
    private long _refusedTooLongTotal;
    private int _capSignalled;

    // Set by the last take, before it takes any partition's lock, and read under a partition's lock: a hit counted
    // before that lock was taken is in the last batch, and every later one sees the store closed.
    private bool _closed;

    // The UTC day the hits now counted belong to, in Unix seconds: its first and last second. Set by each take with
    // every partition's lock held, and read under a partition's lock; a hit's time is held within it, so that the hits
    // of one batch are on one day even when a hit reads the clock after midnight and before the take that ends the day
    // (it counts on the day before, stamped 23:59:59).
    private long _dayStart;
    private long _dayEnd;

    /// <param name="maxKeys">The most distinct keys held between two takes.</param>
    public HitStore(int maxKeys)
    {
        _maxKeys = maxKeys;
        // Shards of the admitted-key set: a power of two, the CPU count up to 64.
        int shardCount = (int)Math.Min(64, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount));
        _admitted = new Admitted[shardCount];
        for (int i = 0; i < _admitted.Length; i++)
        {
            _admitted[i] = new Admitted();
        }

        _admittedMask = shardCount - 1;
        StartDay(CoarseClock.Refresh());
    }

    /// <summary>Raised (from the hit's thread) the first time the key cap is reached after a swap.</summary>
    public event Action? CapReached;

    public int MaxKeys => _maxKeys;

    /// <summary>Distinct keys held now.</summary>
    public int DistinctKeys => Volatile.Read(ref _distinct);

    /// <summary>
    /// Every hit counted since the start (not those added back from the spool). Each partition counts its own under the
    /// lock it already holds, so the total is exact and costs the hot path no extra shared write.
    /// </summary>
    public long HitsTotal
    {
        get
        {
            long sum = 0;
            foreach (Partition partition in Volatile.Read(ref _partitions))
            {
                sum += Volatile.Read(ref partition.Hits);
            }

            return sum;
        }
    }

    /// <summary>Hits refused since the start because a new key would pass maxkeys.</summary>
    public long RefusedFullTotal => Interlocked.Read(ref _refusedFullTotal);

    /// <summary>Hits refused since the start because the key was longer than maxkeylength.</summary>
    public long RefusedTooLongTotal => Interlocked.Read(ref _refusedTooLongTotal);

    /// <summary>
    /// The batch being counted now: it changes each time the store is taken (or, in the log-only mode, peeked), never
    /// otherwise. The per-client cap counts a client's hits within one window, so that one batch never holds more than
    /// the cap for a client, however long it waits to be taken.
    /// </summary>
    public long Window => Volatile.Read(ref _window);

    /// <summary>
    /// Counts a hit on the key; a new key past maxkeys is refused (and counted in <see cref="RefusedFullTotal"/>).
    /// False only once <see cref="TakeLast"/> has closed the store: the hit is not counted, and must not be answered
    /// as if it were.
    /// </summary>
    public bool Record(ReadOnlySpan<byte> key) => RecordIn(key, AnyWindow) != RecordOutcome.Closed;

    /// <summary>
    /// Counts a hit that the per-client cap admitted in <paramref name="window"/>, if that is still the batch being
    /// counted: <see cref="RecordOutcome.WindowEnded"/>, and nothing counted, when the store was taken since (the hit
    /// is then checked again in the new window); <see cref="RecordOutcome.Closed"/> once the last take has happened.
    /// </summary>
    public RecordOutcome RecordIn(ReadOnlySpan<byte> key, long window)
    {
        Partition partition = Mine();
        lock (partition)
        {
            if (_closed)
            {
                return RecordOutcome.Closed;
            }

            if (window != AnyWindow && window != _window)
            {
                return RecordOutcome.WindowEnded;
            }

            ref long count = ref CollectionsMarshal.GetValueRefOrNullRef(partition.Lookup, key);
            if (!Unsafe.IsNullRef(ref count))
            {
                count++;
                partition.Hits++;
                Stamp(partition);
                return RecordOutcome.Counted;
            }

            if (Admit(key) is not { } admitted)
            {
                Interlocked.Increment(ref _refusedFull);
                Interlocked.Increment(ref _refusedFullTotal);
                SignalCap();
                return RecordOutcome.Counted;
            }

            partition.Map.Add(admitted, 1);
            partition.Hits++;
            Stamp(partition);
        }

        if (Volatile.Read(ref _distinct) >= _maxKeys)
        {
            SignalCap();
        }

        return RecordOutcome.Counted;
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
        Partition partition = Mine();
        lock (partition)
        {
            partition.Ignored[(int)reason]++;
            partition.IgnoredTotal[(int)reason]++;
        }
    }

    /// <summary>Hits the filters ignored since the start, for this reason.</summary>
    public long IgnoredTotal(IgnoreReason reason)
    {
        long sum = 0;
        foreach (Partition partition in Volatile.Read(ref _partitions))
        {
            sum += Volatile.Read(ref partition.IgnoredTotal[(int)reason]);
        }

        return sum;
    }

    /// <summary>Tallies a hit counted without the per-client cap because the client table was full.</summary>
    public void CountUncapped()
    {
        Partition partition = Mine();
        lock (partition)
        {
            partition.Uncapped++;
        }
    }

    /// <summary>Takes every count held (the store is empty afterwards) and the refusals since the last take.</summary>
    public Snapshot Take() => Collect(clear: true);

    /// <summary>
    /// The take before the process exits: every count held, and from now on <see cref="Record"/> counts nothing, so
    /// that no hit is answered as counted once nothing will deliver or save it.
    /// </summary>
    public Snapshot TakeLast()
    {
        Volatile.Write(ref _closed, true);
        return Collect(clear: true);
    }

    /// <summary>
    /// Copies every count held without clearing (the log-only mode keeps cumulative counts); the refusals and ignored
    /// hits are still taken, so that each is reported once.
    /// </summary>
    public Snapshot Peek() => Collect(clear: false);

    private Partition Mine()
    {
        Partition? partition = t_partition;
        return partition is not null && ReferenceEquals(partition.Owner, this) ? partition : Join();
    }

    // The first hit of a thread (or the first since it counted in another store): finds or makes its partition.
    private Partition Join()
    {
        int thread = Environment.CurrentManagedThreadId;
        lock (_partitionsLock)
        {
            if (!_byThread.TryGetValue(thread, out Partition? partition))
            {
                partition = new Partition(this);
                _byThread.Add(thread, partition);
                if (_partitions.Length == 1)
                {
                    // A second partition: from now on keys are admitted through the set, which starts with the keys
                    // the first one holds (its lock keeps it from admitting one meanwhile).
                    Partition first = _partitions[0];
                    lock (first)
                    {
                        foreach (byte[] key in first.Map.Keys)
                        {
                            _admitted[KeyComparer.Hash(key) & _admittedMask].Keys.Add(key);
                        }

                        _shared = true;
                    }
                }

                Volatile.Write(ref _partitions, [.. _partitions, partition]);
            }

            t_partition = partition;
            return partition;
        }
    }

    /// <summary>
    /// A key new to the calling partition: the instance held for it (one array per key, shared by every partition
    /// that counts it), or null when it would be one distinct key past maxkeys. Called under the partition's lock.
    /// </summary>
    private byte[]? Admit(ReadOnlySpan<byte> key)
    {
        if (!_shared)
        {
            // The only partition: a key new to it is new.
            return CountNewKey() ? key.ToArray() : null;
        }

        Admitted shard = _admitted[KeyComparer.Hash(key) & _admittedMask];
        lock (shard)
        {
            if (shard.Lookup.TryGetValue(key, out byte[]? known))
            {
                return known;
            }

            if (!CountNewKey())
            {
                return null;
            }

            byte[] added = key.ToArray();
            shard.Keys.Add(added);
            return added;
        }
    }

    // Takes one of the maxkeys places for a new distinct key; false when none is left.
    private bool CountNewKey()
    {
        if (Interlocked.Increment(ref _distinct) <= _maxKeys)
        {
            return true;
        }

        Interlocked.Decrement(ref _distinct);
        return false;
    }

    // The first and last second a partition counted in since the last take; called under its lock.
    private void Stamp(Partition partition)
    {
        long now = Math.Clamp(CoarseClock.UnixSeconds, _dayStart, _dayEnd);
        if (now < partition.First)
        {
            partition.First = now;
        }

        if (now > partition.Last)
        {
            partition.Last = now;
        }
    }

    private void StartDay(long now)
    {
        _dayStart = now - (now % SecondsPerDay);
        _dayEnd = _dayStart + SecondsPerDay - 1;
    }

    private Snapshot Collect(bool clear)
    {
        var ignored = new long[IgnoredHits.Slots];
        long uncapped = 0;
        long from = long.MaxValue;
        long to = long.MinValue;
        Dictionary<byte[], long>[] taken;
        KeyValuePair<byte[], long>[][] copied;
        lock (_partitionsLock)
        {
            Partition[] partitions = _partitions;
            // Everything a swap allocates is made before the partitions' locks are taken, so that the loops wait only
            // for the exchange of references; the merge of what was taken comes after the locks are released.
            var fresh = new Dictionary<byte[], long>[clear ? partitions.Length : 0];
            for (int p = 0; p < fresh.Length; p++)
            {
                // The count is read without the lock: a size hint only.
                fresh[p] = Partition.NewMap(Volatile.Read(ref partitions[p].Map).Count);
            }

            var freshAdmitted = new HashSet<byte[]>[clear && _shared ? _admitted.Length : 0];
            for (int i = 0; i < freshAdmitted.Length; i++)
            {
                freshAdmitted[i] = Admitted.NewSet(Volatile.Read(ref _admitted[i].Keys).Count);
            }

            taken = new Dictionary<byte[], long>[clear ? partitions.Length : 0];
            copied = new KeyValuePair<byte[], long>[clear ? 0 : partitions.Length][];

            // Every partition at once: no hit can fall between two of them, and none is admitted meanwhile (admission
            // happens under a partition's lock), so the admitted set is cleared with the counts it describes.
            foreach (Partition partition in partitions)
            {
                Monitor.Enter(partition);
            }

            try
            {
                for (int p = 0; p < partitions.Length; p++)
                {
                    Partition partition = partitions[p];
                    if (clear)
                    {
                        taken[p] = partition.Swap(fresh[p]);
                    }
                    else
                    {
                        // Without an endpoint the counts stay: copied, as an array; merged after the locks too.
                        copied[p] = [.. partition.Map];
                    }

                    from = Math.Min(from, partition.First);
                    to = Math.Max(to, partition.Last);
                    if (clear)
                    {
                        partition.First = long.MaxValue;
                        partition.Last = long.MinValue;
                    }

                    for (int i = 0; i < ignored.Length; i++)
                    {
                        ignored[i] += partition.Ignored[i];
                        partition.Ignored[i] = 0;
                    }

                    uncapped += partition.Uncapped;
                    partition.Uncapped = 0;
                }

                // A new batch begins, for the per-client cap too (each flush in the log-only mode, which only peeks).
                Volatile.Write(ref _window, _window + 1);
                if (clear)
                {
                    for (int i = 0; i < freshAdmitted.Length; i++)
                    {
                        _admitted[i].Replace(freshAdmitted[i]);
                    }

                    Volatile.Write(ref _distinct, 0);
                    Volatile.Write(ref _capSignalled, 0);
                    // The next batch's hits belong to the day of this take: the take at midnight starts the new one.
                    StartDay(CoarseClock.Refresh());
                }
            }
            finally
            {
                foreach (Partition partition in partitions)
                {
                    Monitor.Exit(partition);
                }
            }
        }

        KeyValuePair<byte[], long>[] entries = clear ? Merge(taken) : Merge(copied);
        long full = Interlocked.Exchange(ref _refusedFull, 0);
        long tooLong = Interlocked.Exchange(ref _refusedTooLong, 0);
        return new Snapshot(entries, full, tooLong, new IgnoredHits(ignored, uncapped))
        {
            From = entries.Length == 0 ? 0 : from,
            To = entries.Length == 0 ? 0 : to,
        };
    }

    /// <summary>The counts the partitions gave up, as one set: a key several partitions counted becomes one entry.</summary>
    private static KeyValuePair<byte[], long>[] Merge(Dictionary<byte[], long>[] maps)
    {
        // Into the largest, which no partition uses any more: the fewest insertions, and no copy.
        Dictionary<byte[], long>? into = null;
        foreach (Dictionary<byte[], long> map in maps)
        {
            if (map.Count > (into?.Count ?? 0))
            {
                into = map;
            }
        }

        if (into is null)
        {
            return [];
        }

        foreach (Dictionary<byte[], long> map in maps)
        {
            if (!ReferenceEquals(map, into))
            {
                foreach (KeyValuePair<byte[], long> entry in map)
                {
                    CollectionsMarshal.GetValueRefOrAddDefault(into, entry.Key, out _) += entry.Value;
                }
            }
        }

        return [.. into];
    }

    private static KeyValuePair<byte[], long>[] Merge(KeyValuePair<byte[], long>[][] copies)
    {
        KeyValuePair<byte[], long>[]? only = null;
        foreach (KeyValuePair<byte[], long>[] copy in copies)
        {
            if (copy.Length > 0)
            {
                if (only is not null)
                {
                    var merged = new Dictionary<byte[], long>(KeyComparer.Instance);
                    foreach (KeyValuePair<byte[], long>[] each in copies)
                    {
                        foreach (KeyValuePair<byte[], long> entry in each)
                        {
                            CollectionsMarshal.GetValueRefOrAddDefault(merged, entry.Key, out _) += entry.Value;
                        }
                    }

                    return [.. merged];
                }

                only = copy;
            }
        }

        return only ?? [];
    }

    private void SignalCap()
    {
        if (Interlocked.CompareExchange(ref _capSignalled, 1, 0) == 0)
        {
            CapReached?.Invoke();
        }
    }

    /// <summary>One thread's counts: written by that thread, read by a take, each under the partition's lock.</summary>
    private sealed class Partition
    {
        public readonly HitStore Owner;
        public Dictionary<byte[], long> Map = new(KeyComparer.Instance);
        public Dictionary<byte[], long>.AlternateLookup<ReadOnlySpan<byte>> Lookup;
        public readonly long[] Ignored = new long[IgnoredHits.Slots];
        public readonly long[] IgnoredTotal = new long[IgnoredHits.Slots];
        public long Uncapped;

        // The first and last second this partition counted a hit in since the last take (none: MaxValue, MinValue).
        public long First = long.MaxValue;
        public long Last = long.MinValue;

        // Written only under the lock; read without it (a 64-bit read is atomic on the 64-bit targets).
        public long Hits;

        public Partition(HitStore owner)
        {
            Owner = owner;
            Lookup = Map.GetAlternateLookup<ReadOnlySpan<byte>>();
        }

        /// <summary>A map for the next interval, sized from the last: the same pages tend to be hit again.</summary>
        public static Dictionary<byte[], long> NewMap(int lastCount) => new(Math.Min(lastCount, 1 << 16), KeyComparer.Instance);

        /// <summary>Puts <paramref name="next"/> in place of the counts, which it returns. Under the partition's lock.</summary>
        public Dictionary<byte[], long> Swap(Dictionary<byte[], long> next)
        {
            Dictionary<byte[], long> old = Map;
            Map = next;
            Lookup = next.GetAlternateLookup<ReadOnlySpan<byte>>();
            return old;
        }
    }

    /// <summary>One shard of the keys held since the last take, each stored once.</summary>
    private sealed class Admitted
    {
        public HashSet<byte[]> Keys = new(KeyComparer.Instance);
        public HashSet<byte[]>.AlternateLookup<ReadOnlySpan<byte>> Lookup;

        public Admitted() => Lookup = Keys.GetAlternateLookup<ReadOnlySpan<byte>>();

        public static HashSet<byte[]> NewSet(int lastCount) => new(Math.Min(lastCount, 1 << 16), KeyComparer.Instance);

        /// <summary>Empties the shard by putting <paramref name="next"/> (empty) in place of its keys.</summary>
        public void Replace(HashSet<byte[]> next)
        {
            Keys = next;
            Lookup = next.GetAlternateLookup<ReadOnlySpan<byte>>();
        }
    }
}

/// <summary>Counts taken from the store, and the hits refused since the previous take.</summary>
internal sealed record Snapshot(KeyValuePair<byte[], long>[] Entries, long RefusedFull, long RefusedTooLong, IgnoredHits Ignored)
{
    public long Hits => Sum(Entries);

    /// <summary>The Unix second of the first counted hit, on the same UTC day as <see cref="To"/>; 0 without entries.</summary>
    public long From { get; init; }

    /// <summary>The Unix second of the last counted hit; 0 without entries.</summary>
    public long To { get; init; }

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
