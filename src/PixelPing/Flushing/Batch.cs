namespace PixelPing.Flushing;

/// <summary>
/// Counts taken from the store in one flush (or at a UTC midnight), with the id that stays with them until the endpoint
/// accepts them, and the times of their first and last hit; the spool file holds exactly these. Each endpoint makes
/// what it sends from them, again for each attempt (an HTTP body is the same bytes each time). Once the batch is
/// delivered or discarded, the flusher clears its entries, so that its keys do not outlive it in memory.
/// </summary>
internal sealed record Batch(string Id, KeyValuePair<byte[], long>[] Entries)
{
    public long Hits => Counting.Snapshot.Sum(Entries);

    /// <summary>The hits in several batches.</summary>
    public static long SumHits(IEnumerable<Batch> batches) => batches.Sum(b => b.Hits);

    /// <summary>When the first hit of the batch was counted, in Unix seconds.</summary>
    public long From { get; init; }

    /// <summary>When the last hit of the batch was counted, in Unix seconds; on the same UTC day as <see cref="From"/>.</summary>
    public long To { get; init; }

    /// <summary>The UTC day the hits were counted on: the store is taken at every UTC midnight, so a batch has one.</summary>
    public DateOnly Day => DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeSeconds(From).UtcDateTime);
}
