namespace PixelPing.Net;

/// <summary>
/// The counters one part of the server writes. Each writer (an event loop and its connections) has its own shard,
/// so no cache line is written by every core for every request; <see cref="ServerStats.Read"/> sums the shards.
/// </summary>
internal sealed class StatsShard
{
    /// <summary>The response statuses counted one by one; anything else lands in the last slot.</summary>
    public static ReadOnlySpan<int> Statuses => [200, 400, 404, 405, 413, 414, 431, 501, 503, 505];

    public long Requests;
    public long Pixels;
    public long Accepted;
    public long Refused;
    public long Closed;
    public long Errors;
    public long Handshakes;
    public long FailedHandshakes;
    internal readonly long[] Responses = new long[Statuses.Length + 1];

    // Padding: shards are allocated one after another, and the last counters of one must not share a cache line
    // with the first of the next.
#pragma warning disable CS0169, IDE0051
    private readonly long _pad0, _pad1, _pad2, _pad3, _pad4, _pad5, _pad6, _pad7;
#pragma warning restore CS0169, IDE0051

    /// <summary>
    /// Adds one. Only the shard's own loop thread writes it, so a plain add is exact (no locked instruction per
    /// request); readers on other threads see each counter whole, since an aligned 64-bit write is atomic.
    /// </summary>
    public static void Increment(ref long counter) => Volatile.Write(ref counter, counter + 1);

    /// <summary>Counts a response by the status code in its status line (<c>HTTP/1.1 200 OK</c>).</summary>
    public void CountResponse(ReadOnlySpan<byte> response)
    {
        int status = response.Length >= 12 ? ((response[9] - '0') * 100) + ((response[10] - '0') * 10) + (response[11] - '0') : 0;
        int slot = Statuses.IndexOf(status);
        Increment(ref Responses[slot < 0 ? Statuses.Length : slot]);
    }
}
