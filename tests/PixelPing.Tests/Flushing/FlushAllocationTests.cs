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
        var flusher = new Flusher(store, client: null, new FlushOptions(TimeSpan.FromSeconds(60), "secret", false, false, 4096));
        for (int i = 0; i < keys; i++)
        {
            byte[] key = Encoding.ASCII.GetBytes(i.ToString("D" + keyLength, System.Globalization.CultureInfo.InvariantCulture));
            store.Record(key);
            store.Record(key);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        Snapshot snapshot = store.Take();
        Batch batch = flusher.MakeBatch(snapshot.Entries);
        long sent = 0;
        foreach (ReadOnlyMemory<byte> chunk in BatchEncoder.EncodeBodyChunks(batch.Entries, batch.Id, "secret"))
        {
            sent += chunk.Length;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // The Content-Length and signature made in the first pass are those of the bytes sent in the second.
        Assert.Equal(batch.BodyLength, sent);
        using var hmac = new System.Security.Cryptography.HMACSHA256("secret"u8.ToArray());
        var sentBytes = new MemoryStream();
        foreach (ReadOnlyMemory<byte> chunk in BatchEncoder.EncodeBodyChunks(batch.Entries, batch.Id, "secret"))
        {
            sentBytes.Write(chunk.Span);
        }

        Assert.Equal("sha256=" + Convert.ToHexStringLower(hmac.ComputeHash(sentBytes.ToArray())), batch.Signature);
        Assert.Equal(2L * keys, batch.Hits);
        // Per key: a 16-byte entry in the taken array and about 28 bytes in the shard's next (pre-sized) dictionary.
        // A string or array per key would add at least its own length, 12 or 1000 bytes here, on top.
        long bound = (64L * keys) + (1 << 20);
        Assert.True(allocated < bound, $"allocated {allocated} bytes for {keys} keys and {sent} body bytes (bound {bound})");
    }
}
