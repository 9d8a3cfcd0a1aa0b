namespace PixelPing.Flushing;

/// <summary>
/// Counts taken from the store in one flush, with the id that stays with them until the endpoint accepts them. The
/// body is not held: it is encoded again, piece by piece, for each attempt (the same entries, id and secret give the
/// same bytes, so a resend is byte for byte the same request); only its length and signature are kept. Once the
/// batch is delivered or discarded, the flusher clears its entries, so that its keys do not outlive it in memory.
/// </summary>
internal sealed record Batch(string Id, KeyValuePair<byte[], long>[] Entries, long BodyLength, string? Signature)
{
    public long Hits => Counting.Snapshot.Sum(Entries);
}
