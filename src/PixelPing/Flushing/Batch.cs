namespace PixelPing.Flushing;

/// <summary>
/// Counts taken from the store in one flush, with the id that stays with them until the endpoint accepts them; the
/// spool file holds exactly these two. The body is not held: it is encoded again, piece by piece, for each attempt
/// (the same entries, id and secret give the same bytes, so a resend is byte for byte the same request); only its
/// length and signature are kept, set by the flusher that made or restored the batch. Once the batch is delivered or
/// discarded, the flusher clears its entries, so that its keys do not outlive it in memory.
/// </summary>
internal sealed record Batch(string Id, KeyValuePair<byte[], long>[] Entries)
{
    public long Hits => Counting.Snapshot.Sum(Entries);

    /// <summary>The hits in several batches.</summary>
    public static long SumHits(IEnumerable<Batch> batches) => batches.Sum(b => b.Hits);

    /// <summary>The length of the encoded body.</summary>
    public long BodyLength { get; init; }

    /// <summary>The body's HMAC-SHA256 under the secret, hex; null without a secret.</summary>
    public string? Signature { get; init; }
}
