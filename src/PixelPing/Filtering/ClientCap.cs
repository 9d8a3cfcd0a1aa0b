using System.Buffers;
using System.Numerics;

namespace PixelPing.Filtering;

internal enum CapResult : byte
{
    /// <summary>Under the cap: count the hit.</summary>
    Counted,

    /// <summary>This client already had <c>maxhitsperclient</c> hits on this key in this interval: ignore it.</summary>
    OverCap,

    /// <summary>The table has no room for a new client and key: the hit is counted without a cap (and reported).</summary>
    TableFull,
}

/// <summary>
/// <c>maxhitsperclient</c>: how many hits each (client address, key) pair had in the current interval. The table holds
/// a 64-bit keyed hash of the pair (<see cref="SipHash"/>, random key per process) and a count, never the address.
/// It is bounded: at most <c>maxEntries</c> pairs, split over shards each behind its own lock; the whole table empties
/// when an interval ends (windows of <c>interval</c> seconds). When a shard is full, a new pair is counted unchecked:
/// refusing it would drop real readers because many others came, while a flood from one address still meets its
/// own entry. Two pairs whose hashes collide (about one in 2^64/entries) would share a count.
/// </summary>
internal sealed class ClientCap
{
    private const int StackBytes = 1024;

    private readonly int _maxHits;
    private readonly long _intervalMs;
    private readonly SipHash _hash;
    private readonly Shard[] _shards;
    private readonly int _shardMask;

    public ClientCap(int maxHits, int maxEntries, TimeSpan interval, SipHash hash)
    {
        _maxHits = maxHits;
        _intervalMs = Math.Max(1, (long)interval.TotalMilliseconds);
        _hash = hash;
        int shards = (int)Math.Min(64, BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount));
        int perShard = Math.Max(1, (maxEntries + shards - 1) / shards);
        _shards = new Shard[shards];
        for (int i = 0; i < shards; i++)
        {
            _shards[i] = new Shard(perShard);
        }

        _shardMask = shards - 1;
        MaxEntries = perShard * shards;
    }

    /// <summary>The table's capacity in (client, key) pairs, as reported when it is full.</summary>
    public int MaxEntries { get; }

    public CapResult Admit(UInt128 client, ReadOnlySpan<byte> key)
    {
        ulong fingerprint = Fingerprint(client, key);
        Shard shard = _shards[(int)fingerprint & _shardMask];
        long window = Environment.TickCount64 / _intervalMs;
        lock (shard)
        {
            if (shard.Window != window)
            {
                shard.Clear(window);
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
        private readonly ulong[] _fingerprints;
        private readonly int[] _counts;
        private readonly int _limit;
        private int _used;

        public Shard(int limit)
        {
            _limit = limit;
            // Open addressing at most three-quarters full keeps probe runs short.
            int slots = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(4, limit + (limit / 3) + 1));
            _fingerprints = new ulong[slots];
            _counts = new int[slots];
        }

        public long Window { get; private set; } = long.MinValue;

        public void Clear(long window)
        {
            if (_used > 0)
            {
                Array.Clear(_fingerprints);
                Array.Clear(_counts);
                _used = 0;
            }

            Window = window;
        }

        public CapResult Add(ulong fingerprint, int maxHits)
        {
            int mask = _fingerprints.Length - 1;
            for (int slot = (int)(fingerprint >> 32) & mask; ; slot = (slot + 1) & mask)
            {
                ulong held = _fingerprints[slot];
                if (held == fingerprint)
                {
                    if (_counts[slot] >= maxHits)
                    {
                        return CapResult.OverCap;
                    }

                    _counts[slot]++;
                    return CapResult.Counted;
                }

                if (held == 0)
                {
                    if (_used >= _limit)
                    {
                        return CapResult.TableFull;
                    }

                    _fingerprints[slot] = fingerprint;
                    _counts[slot] = 1;
                    _used++;
                    return CapResult.Counted;
                }
            }
        }
    }
}
