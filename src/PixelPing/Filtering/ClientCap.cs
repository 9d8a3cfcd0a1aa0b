using System.Buffers;
using System.Numerics;

namespace PixelPing.Filtering;

internal enum CapResult : byte
{
    /// <summary>Under the cap: count the hit.</summary>
    Counted,

    /// <summary>This client already had <c>maxhitsperclient</c> hits on this key in this window: ignore it.</summary>
    OverCap,

    /// <summary>The table has no room for a new client and key: the hit is counted without a cap (and reported).</summary>
    TableFull,
}

/// <summary>
/// <c>maxhitsperclient</c>: how many hits each (client address, key) pair had in the current window, the batch the
/// store is counting (<see cref="Counting.HitStore.Window"/>): a window ends when a flush takes the store, so one batch
/// holds at most the cap per pair. The table holds a 64-bit keyed hash of the pair (<see cref="SipHash"/>, random key
/// per process) and a count, never the address. It is bounded: at most <c>maxEntries</c> pairs (at most 32 bytes each),
/// split over shards each behind its own lock, grown as pairs arrive; a shard empties when the first hit of a new
/// window reaches it. When a shard is full, a new pair is counted unchecked:
/// refusing it would drop real readers because many others came, while a flood from one address still meets its
/// own entry. Two pairs whose hashes collide (about one in 2^64/entries) would share a count.
/// </summary>
internal sealed class ClientCap
{
    private const int StackBytes = 1024;

    private readonly int _maxHits;
    private readonly SipHash _hash;
    private readonly Shard[] _shards;
    private readonly int _shardMask;

    public ClientCap(int maxHits, int maxEntries, SipHash hash)
    {
        _maxHits = maxHits;
        _hash = hash;
        int shards = (int)Math.Min(64, BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount));
        int perShard = Math.Max(1, (maxEntries + shards - 1) / shards);
        _shards = new Shard[shards];
        for (int i = 0; i < shards; i++)
        {
            _shards[i] = new Shard(perShard);
        }

        _shardMask = shards - 1;
    }

    /// <summary>Counts the pair's hit in <paramref name="window"/>, or says it is over the cap there.</summary>
    public CapResult Admit(UInt128 client, ReadOnlySpan<byte> key, long window)
    {
        ulong fingerprint = Fingerprint(client, key);
        Shard shard = _shards[(int)fingerprint & _shardMask];
        lock (shard)
        {
            if (window > shard.Window)
            {
                shard.Clear(window);
            }
            else if (window < shard.Window)
            {
                // A window already ended (another hit brought the shard into the next one): the store refuses to
                // count this hit there, and it is checked again in the window now open. Left out of the table, so
                // that it costs the new window nothing.
                return CapResult.Counted;
            }

            return shard.Add(fingerprint, _maxHits);
        }
    }

    private ulong Fingerprint(UInt128 client, ReadOnlySpan<byte> key)
    {
        int length = 16 + key.Length;
        byte[]? rented = null;
        Span<byte> data = length <= StackBytes ? stackalloc byte[StackBytes] : (rented = ArrayPool<byte>.Shared.Rent(length));
        NetAddress.Write(client, data);
        key.CopyTo(data[16..]);
        ulong fingerprint = _hash.Hash(data[..length]);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        // 0 marks an empty slot.
        return fingerprint == 0 ? 1 : fingerprint;
    }

    private sealed class Shard
    {
        private const int InitialSlots = 64;

        private readonly int _limit;
        private ulong[] _fingerprints = new ulong[InitialSlots];
        private int[] _counts = new int[InitialSlots];
        private int _used;

        public Shard(int limit) => _limit = limit;

        public long Window { get; private set; } = long.MinValue;

        public void Clear(long window)
        {
            if (_used > 0)
            {
                // Back to the small table: a burst in one interval does not keep its memory for ever.
                _fingerprints = new ulong[InitialSlots];
                _counts = new int[InitialSlots];
                _used = 0;
            }

            Window = window;
        }

        public CapResult Add(ulong fingerprint, int maxHits)
        {
            int slot = Find(_fingerprints, fingerprint);
            if (_fingerprints[slot] == fingerprint)
            {
                if (_counts[slot] >= maxHits)
                {
                    return CapResult.OverCap;
                }

                _counts[slot]++;
                return CapResult.Counted;
            }

            if (_used >= _limit)
            {
                return CapResult.TableFull;
            }

            // Open addressing at most three-quarters full keeps probe runs short; the table grows by doubling, so
            // memory follows the pairs seen, up to the limit.
            if ((_used + 1) * 4 > _fingerprints.Length * 3)
            {
                Grow();
                slot = Find(_fingerprints, fingerprint);
            }

            _fingerprints[slot] = fingerprint;
            _counts[slot] = 1;
            _used++;
            return CapResult.Counted;
        }

        /// <summary>The slot holding <paramref name="fingerprint"/>, or the empty slot where it would go.</summary>
        private static int Find(ulong[] fingerprints, ulong fingerprint)
        {
            int mask = fingerprints.Length - 1;
            int slot = (int)(fingerprint >> 32) & mask;
            while (fingerprints[slot] != fingerprint && fingerprints[slot] != 0)
            {
                slot = (slot + 1) & mask;
            }

            return slot;
        }

        private void Grow()
        {
            ulong[] fingerprints = new ulong[_fingerprints.Length * 2];
            int[] counts = new int[fingerprints.Length];
            for (int i = 0; i < _fingerprints.Length; i++)
            {
                if (_fingerprints[i] != 0)
                {
                    int slot = Find(fingerprints, _fingerprints[i]);
                    fingerprints[slot] = _fingerprints[i];
                    counts[slot] = _counts[i];
                }
            }

            _fingerprints = fingerprints;
            _counts = counts;
        }
    }
}
