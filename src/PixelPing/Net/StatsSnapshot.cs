namespace PixelPing.Net;

/// <summary>
/// A listener's counters summed over its shards. <see cref="Responses"/> is indexed like
/// <see cref="StatsShard.Statuses"/>, with every other status in the last slot.
/// </summary>
internal sealed record StatsSnapshot(
    long Requests,
    long Pixels,
    long Accepted,
    long Refused,
    long Closed,
    long Errors,
    long Handshakes,
    long FailedHandshakes,
    long[] Responses)
{
    /// <summary>Connections accepted and not yet closed (refused ones are never open).</summary>
    public long Open => Accepted - Refused - Closed;
}
