namespace PixelPing.Flushing;

/// <summary>
/// Counts taken from the store in one flush, with the id that stays with them until the endpoint accepts them and
/// the body encoded once, so a resend is byte for byte the same request.
/// </summary>
internal sealed record Batch(string Id, KeyValuePair<byte[], long>[] Entries, byte[] Body)
{
    public long Hits
    {
        get
        {
            long sum = 0;
            foreach (KeyValuePair<byte[], long> entry in Entries)
            {
                sum += entry.Value;
            }

            return sum;
        }
    }
}
