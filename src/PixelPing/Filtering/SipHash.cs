using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace PixelPing.Filtering;

/// <summary>
/// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash, so the per-client table holds numbers that say
/// nothing about an address without the key, and a client cannot aim its addresses at one slot of the table.
/// </summary>
internal readonly struct SipHash
{
    private readonly ulong _k0;
    private readonly ulong _k1;

    public SipHash(ulong k0, ulong k1)
    {
        _k0 = k0;
        _k1 = k1;
    }

    /// <summary>A key from the system's random source, new in every process and never written anywhere.</summary>
    public static SipHash WithRandomKey()
    {
        Span<byte> key = stackalloc byte[16];
        RandomNumberGenerator.Fill(key);
        return new SipHash(BinaryPrimitives.ReadUInt64LittleEndian(key), BinaryPrimitives.ReadUInt64LittleEndian(key[8..]));
    }

    public ulong Hash(ReadOnlySpan<byte> data)
    {
        ulong v0 = _k0 ^ 0x736f6d6570736575UL;
        ulong v1 = _k1 ^ 0x646f72616e646f6dUL;
        ulong v2 = _k0 ^ 0x6c7967656e657261UL;
        ulong v3 = _k1 ^ 0x7465646279746573UL;
        int whole = data.Length & ~7;
        for (int i = 0; i < whole; i += 8)
        {
            Compress(BinaryPrimitives.ReadUInt64LittleEndian(data[i..]), ref v0, ref v1, ref v2, ref v3);
        }

        ulong last = (ulong)data.Length << 56;
        for (int i = whole; i < data.Length; i++)
        {
            last |= (ulong)data[i] << (8 * (i - whole));
        }

        Compress(last, ref v0, ref v1, ref v2, ref v3);
        v2 ^= 0xff;
        for (int r = 0; r < 4; r++)
        {
            Round(ref v0, ref v1, ref v2, ref v3);
        }

        return v0 ^ v1 ^ v2 ^ v3;
    }

    // SipHash-2-4: two rounds per 8-byte word.
    private static void Compress(ulong m, ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v3 ^= m;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= m;
    }

    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1;
        v1 = BitOperations.RotateLeft(v1, 13);
        v1 ^= v0;
        v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3;
        v3 = BitOperations.RotateLeft(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = BitOperations.RotateLeft(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = BitOperations.RotateLeft(v1, 17);
        v1 ^= v2;
        v2 = BitOperations.RotateLeft(v2, 32);
    }
}
