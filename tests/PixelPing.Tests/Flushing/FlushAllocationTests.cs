using System.Text;
using PixelPing.Counting;
using PixelPing.Flushing;

namespace PixelPing.Tests.Flushing;

/// <summary>
/// A flush allocates in proportion to the bytes it sends, not an object per key: taking the counts is one array and
/// a fresh dictionary per shard, and the body is encoded into one reused buffer. Measured on one thread with
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/>, which counts exactly.
/// </summary>
public sealed class FlushAllocationTests
{
    [Theory]
    [InlineData(100_000, 12)]
    [InlineData(10_000, 1000)]
    public void Taking_and_encoding_a_batch_allocates_no_per_key_objects(int keys, int keyLength)
    {
        var store = new HitStore(keys);
        for (int i = 0; i < keys; i++)
        {
            byte[] key = Encoding.ASCII.GetBytes(i.ToString("D" + keyLength, System.Globalization.CultureInfo.InvariantCulture));
            store.Record(key);
            store.Record(key);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        Snapshot snapshot = store.Take();
        var batch = new Batch("id-1", snapshot.Entries);
        // What the HTTP endpoint does with a batch: one pass for the length and the signature, one to send.
        long length = 0;
        using (var mac = System.Security.Cryptography.IncrementalHash.CreateHMAC(System.Security.Cryptography.HashAlgorithmName.SHA256, "secret"u8))
        {
            foreach (ReadOnlyMemory<byte> chunk in BatchEncoder.EncodeBodyChunks(batch, "secret"))
            {
                length += chunk.Length;
                mac.AppendData(chunk.Span);
            }
        }

        long sent = 0;
        foreach (ReadOnlyMemory<byte> chunk in BatchEncoder.EncodeBodyChunks(batch, "secret"))
        {
            sent += chunk.Length;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(length, sent);
        Assert.Equal(2L * keys, batch.Hits);
        // Per key: a 16-byte entry in the taken array and about 28 bytes in the shard's next (pre-sized) dictionary.
        // A string or array per key would add at least its own length, 12 or 1000 bytes here, on top.
        long bound = (64L * keys) + (1 << 20);
        Assert.True(allocated < bound, $"allocated {allocated} bytes for {keys} keys and {sent} body bytes (bound {bound})");
    }
}
