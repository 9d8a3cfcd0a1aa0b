namespace PixelPing.Net;

/// <summary>Counters the server keeps for its shutdown summary and for tests; updated with interlocked adds.</summary>
internal sealed class ServerStats
{
    public long Requests;
    public long Pixels;
    public long Accepted;
    public long RefusedConnections;
    public long Errors;
    public long TimedOut;
}
